#include "plan/physical.h"

#include <arrow/array.h>

#include "core/error.h"
#include "core/time_arithmetic.h"
#include "core/types.h"
#include "expr/expression.h"
#include "ops/window_aggregate.h"

namespace millstream {

namespace {

int ColumnIndex(const arrow::Schema& schema, const std::string& name, const PlanNode& node) {
  const int index = schema.GetFieldIndex(name);
  if (index < 0) {
    std::string columns;
    for (const auto& field : schema.fields()) columns += (columns.empty() ? "" : ", ") + field->name();
    throw UserError(node.label + ": unknown column '" + name + "'; columns: " + columns);
  }
  return index;
}

std::vector<int> KeyColumns(const arrow::Schema& schema, const PlanNode& node) {
  std::vector<int> columns;
  for (const auto& key : node.keys) columns.push_back(ColumnIndex(schema, key, node));
  return columns;
}

std::vector<AggregateSpec> Aggregates(const arrow::Schema& schema, const PlanNode& node) {
  std::vector<AggregateSpec> specs;
  for (const auto& aggregate : node.aggregates) {
    AggregateSpec spec;
    spec.kind = aggregate.kind;
    spec.output_name = aggregate.name;
    spec.input_column = aggregate.column.empty() ? -1 : ColumnIndex(schema, aggregate.column, node);
    specs.push_back(std::move(spec));
  }
  return specs;
}

int64_t TimeUnitsPerMs(const arrow::DataType& type, const std::string& column, const PlanNode& node) {
  if (type.id() == arrow::Type::INT64) return 1;
  if (type.id() == arrow::Type::TIMESTAMP) {
    return TimestampUnitsPerMs(static_cast<const arrow::TimestampType&>(type).unit());
  }
  throw UserTypeError(node.label + ": the time column '" + column + "' is " + type.ToString() +
                      "; event time must be a timestamp or int64 epoch milliseconds");
}

WindowSpec ToWindowSpec(const PlanNode& node) {
  WindowSpec window;
  if (node.window_kind == "tumbling") {
    window.kind = WindowSpec::Kind::kTumbling;
  } else if (node.window_kind == "sliding") {
    window.kind = WindowSpec::Kind::kSliding;
  } else if (node.window_kind == "session") {
    window.kind = WindowSpec::Kind::kSession;
  } else {
    throw UserError(node.label + ": unknown window kind '" + node.window_kind + "'");
  }
  window.size_ms = node.size_ms;
  window.slide_ms = node.slide_ms;
  window.offset_ms = node.offset_ms;
  window.gap_ms = node.gap_ms;
  window.processing_time = node.processing_time;
  return window;
}

}  // namespace

PhysicalOperator BuildOperator(const PlanNode& node, const std::vector<SchemaPtr>& input_schemas,
                               const PlanHandles& handles) {
  PhysicalOperator result{};
  const arrow::Schema* input = input_schemas.empty() ? nullptr : input_schemas.front().get();
  if (node.op == "source") {
    MS_CHECK(node.handle >= 0 && node.handle < static_cast<int>(handles.sources.size()),
             "source handle out of range");
    result.kind = PhysicalOperator::Kind::kSource;
    result.source = handles.sources[node.handle];
    result.output_schemas = {result.source->schema(), DeadLetterSchema()};
  } else if (node.op == "filter") {
    auto predicate = CompilePredicate(node.predicate_json, *input);
    result.kind = PhysicalOperator::Kind::kTransform;
    result.transform = MakeFilter(std::move(predicate), input_schemas.front());
  } else if (node.op == "project") {
    std::vector<std::shared_ptr<const CompiledExpression>> expressions;
    for (const auto& json : node.expressions_json) expressions.push_back(CompileExpression(json, *input));
    result.kind = PhysicalOperator::Kind::kTransform;
    result.transform = MakeProject(std::move(expressions));
  } else if (node.op == "map_batches") {
    MS_CHECK(node.handle >= 0 && node.handle < static_cast<int>(handles.functions.size()),
             "map_batches handle out of range");
    result.kind = PhysicalOperator::Kind::kTransform;
    result.transform = MakeMapBatches(node.label, handles.functions[node.handle],
                                      node.declared_schema ? node.declared_schema : input_schemas.front());
  } else if (node.op == "union") {
    for (const auto& schema : input_schemas) {
      if (!schema->Equals(*input_schemas.front(), /*check_metadata=*/false)) {
        throw UserTypeError("union: every stream must have the same columns and types; {" +
                            input_schemas.front()->ToString() + "} differs from {" +
                            schema->ToString() + "}");
      }
    }
    result.kind = PhysicalOperator::Kind::kUnion;
  } else if (node.op == "watermark") {
    result.kind = PhysicalOperator::Kind::kWatermark;
    const int column = ColumnIndex(*input, node.time_column, node);
    result.watermark.time_column = column;
    result.watermark.units_per_ms = TimeUnitsPerMs(*input->field(column)->type(), node.time_column, node);
    CheckDuration(node.max_delay_ms, "with_watermark('" + node.time_column + "')", "max_delay");
    result.watermark.max_delay_ms = node.max_delay_ms;
    result.watermark.idle_timeout_ms = node.idle_timeout_ms;
  } else if (node.op == "window") {
    result.kind = PhysicalOperator::Kind::kKeyed;
    int time_column = -1;  // processing time: rows are timed as they arrive
    if (!node.processing_time) {
      time_column = ColumnIndex(*input, node.time_column, node);
      TimeUnitsPerMs(*input->field(time_column)->type(), node.time_column, node);
    }
    result.keyed = MakeWindowAggregate(input_schemas.front(), KeyColumns(*input, node), time_column,
                                       ToWindowSpec(node), node.allowed_lateness_ms,
                                       Aggregates(*input, node));
  } else if (node.op == "running_agg") {
    result.kind = PhysicalOperator::Kind::kKeyed;
    result.keyed = MakeRunningAggregate(input_schemas.front(), KeyColumns(*input, node),
                                        Aggregates(*input, node));
  } else if (node.op == "port") {
    result.kind = PhysicalOperator::Kind::kPort;
  } else if (node.op == "sink") {
    result.kind = PhysicalOperator::Kind::kSink;
  } else {
    MS_CHECK(false, "unknown plan operator '" + node.op + "'");
  }
  if (result.kind == PhysicalOperator::Kind::kKeyed) {
    for (int port = 0; port < result.keyed->num_ports(); ++port) {
      result.output_schemas.push_back(result.keyed->output_schema(port));
    }
  } else if (result.kind == PhysicalOperator::Kind::kTransform) {
    result.output_schemas = {result.transform->output_schema()};
  } else if (result.kind != PhysicalOperator::Kind::kSource && input) {
    result.output_schemas = {input_schemas.front()};
  }
  return result;
}

bool PruneKeyedInput(const PlanNode& node, const SchemaPtr& input_schema,
                     const PlanHandles& handles, PhysicalOperator* op) {
  MS_CHECK(node.op == "window" || node.op == "running_agg", "only keyed operators are pruned");
  std::vector<bool> read(input_schema->num_fields(), false);
  for (const auto& key : node.keys) read[ColumnIndex(*input_schema, key, node)] = true;
  if (node.op == "window" && !node.processing_time) {
    read[ColumnIndex(*input_schema, node.time_column, node)] = true;
  }
  for (const auto& aggregate : node.aggregates) {
    if (!aggregate.column.empty()) read[ColumnIndex(*input_schema, aggregate.column, node)] = true;
  }
  std::vector<int> columns;
  arrow::FieldVector fields;
  for (int column = 0; column < input_schema->num_fields(); ++column) {
    if (!read[column]) continue;
    columns.push_back(column);
    fields.push_back(input_schema->field(column));
  }
  // Nothing read (a global processing-time count) is not pruned either: an empty list means
  // every column, and one subtask gets every row of a global key, uncopied, anyway.
  if (columns.empty() || columns.size() == read.size()) return false;
  *op = BuildOperator(node, {arrow::schema(std::move(fields))}, handles);
  op->input_columns = std::move(columns);
  return true;
}

void TimeColumnToMs(const arrow::Array& column, int64_t units_per_ms, std::vector<int64_t>* out_ms) {
  // int64 and timestamp arrays share the layout: read the raw values through an int64 view
  // (held here: the view owns the Array object that `values` refers to).
  const std::shared_ptr<arrow::Array> view = CheckArrow(column.View(arrow::int64()), "event-time view");
  const auto& values = static_cast<const arrow::NumericArray<arrow::Int64Type>&>(*view);
  const int64_t rows = values.length();
  out_ms->resize(rows);
  const int64_t* raw = values.raw_values();
  int64_t* out = out_ms->data();
  TimeValuesToMs(raw, rows, units_per_ms, out);
}

}  // namespace millstream
