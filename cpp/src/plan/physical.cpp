#include "plan/physical.h"

#include <arrow/array.h>

#include "core/error.h"
#include "core/time_arithmetic.h"
#include "core/types.h"
#include "expr/expression.h"
#include "ops/interval_join.h"
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

std::vector<int> KeyColumns(const arrow::Schema& schema, const std::vector<std::string>& keys,
                            const PlanNode& node) {
  std::vector<int> columns;
  for (const auto& key : keys) columns.push_back(ColumnIndex(schema, key, node));
  return columns;
}

std::vector<AggregateSpec> Aggregates(const arrow::Schema& schema,
                                      const std::vector<PlanAggregate>& aggregates,
                                      const PlanNode& node) {
  std::vector<AggregateSpec> specs;
  for (const auto& aggregate : aggregates) {
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

// The physical operator of each kind of node, given its inputs' schemas.
class OperatorBuilder {
 public:
  OperatorBuilder(const PlanNode& node, const std::vector<SchemaPtr>& input_schemas,
                  const PlanHandles& handles, PhysicalOperator* result)
      : node_(node), inputs_(input_schemas), handles_(handles), result_(*result),
        input_(input_schemas.empty() ? nullptr : input_schemas.front().get()) {}

  void operator()(const SourceNode& source) {
    MS_CHECK(source.handle >= 0 && source.handle < static_cast<int>(handles_.sources.size()),
             "source handle out of range (CheckHandles)");
    result_.kind = PhysicalOperator::Kind::kSource;
    result_.source = handles_.sources[source.handle];
    if (source.filter_json) result_.source = result_.source->WithRowFilter(*source.filter_json);
    if (source.columns) {
      const std::vector<int> read = SourceColumnIndices(*result_.source->schema(), *source.columns,
                                                        result_.source->name());
      if (static_cast<int>(read.size()) < result_.source->schema()->num_fields()) {
        result_.source = result_.source->WithColumns(*source.columns);
      }
    }
    result_.output_schemas = {result_.source->schema(), DeadLetterSchema()};
  }
  void operator()(const FilterNode& filter) {
    auto predicate = CompilePredicate(filter.predicate_json, *input_);
    Transform(MakeFilter(std::move(predicate), inputs_.front()));
  }
  void operator()(const ProjectNode& project) {
    std::vector<std::shared_ptr<const CompiledExpression>> expressions;
    for (const auto& json : project.expressions_json) expressions.push_back(CompileExpression(json, *input_));
    Transform(MakeProject(std::move(expressions)));
  }
  void operator()(const MapBatchesNode& map) {
    MS_CHECK(map.handle >= 0 && map.handle < static_cast<int>(handles_.functions.size()),
             "map_batches handle out of range (CheckHandles)");
    Transform(MakeMapBatches(node_.label, handles_.functions[map.handle], map.declared_schema));
  }
  void operator()(const UnionNode&) {
    for (const auto& schema : inputs_) {
      if (!schema->Equals(*inputs_.front(), /*check_metadata=*/false)) {
        throw UserTypeError("union: every stream must have the same columns and types; {" +
                            inputs_.front()->ToString() + "} differs from {" +
                            schema->ToString() + "}");
      }
    }
    PassThrough(PhysicalOperator::Kind::kUnion);
  }
  void operator()(const WatermarkNode& watermark) {
    const int column = ColumnIndex(*input_, watermark.time_column, node_);
    result_.watermark.time_column = column;
    result_.watermark.units_per_ms =
        TimeUnitsPerMs(*input_->field(column)->type(), watermark.time_column, node_);
    CheckDuration(watermark.max_delay_ms, "with_watermark('" + watermark.time_column + "')",
                  "max_delay");
    result_.watermark.max_delay_ms = watermark.max_delay_ms;
    result_.watermark.idle_timeout_ms = watermark.idle_timeout_ms;
    PassThrough(PhysicalOperator::Kind::kWatermark);
  }
  void operator()(const ExplicitWatermarkNode& watermark) {
    const int time_column = ColumnIndex(*input_, watermark.time_column, node_);
    TimeUnitsPerMs(*input_->field(time_column)->type(), watermark.time_column, node_);
    const int column = ColumnIndex(*input_, watermark.watermark_column, node_);
    if (column == time_column || input_->field(column)->type()->id() != arrow::Type::INT64) {
      throw UserTypeError(node_.label + ": the watermark column '" + watermark.watermark_column +
                          "' must be an int64 column of epoch milliseconds besides the time "
                          "column, got " + input_->field(column)->type()->ToString());
    }
    result_.kind = PhysicalOperator::Kind::kWatermark;
    result_.watermark.time_column = time_column;
    result_.watermark.watermark_column = column;
    result_.output_schemas = {CheckArrow(input_->RemoveField(column), "dropping the watermark column")};
  }
  void operator()(const WindowNode& window) {
    int time_column = -1;  // processing time: rows are timed as they arrive
    if (!window.window.processing_time) {
      time_column = ColumnIndex(*input_, window.time_column, node_);
      TimeUnitsPerMs(*input_->field(time_column)->type(), window.time_column, node_);
    }
    Keyed(MakeWindowAggregate(inputs_.front(), KeyColumns(*input_, window.keys, node_), time_column,
                              window.window, window.allowed_lateness_ms,
                              Aggregates(*input_, window.aggregates, node_)));
  }
  void operator()(const RunningAggregateNode& running) {
    Keyed(MakeRunningAggregate(inputs_.front(), KeyColumns(*input_, running.keys, node_),
                               Aggregates(*input_, running.aggregates, node_)));
  }
  void operator()(const JoinNode& join) {
    IntervalJoinSpec spec;
    const char* side_names[2] = {"left", "right"};
    const std::vector<std::string>* keys[2] = {&join.left_keys, &join.right_keys};
    const std::string* time_columns[2] = {&join.left_time_column, &join.right_time_column};
    for (int side = 0; side < 2; ++side) {
      const arrow::Schema& schema = *inputs_[side];
      spec.keys[side] = KeyColumns(schema, *keys[side], node_);
      if (time_columns[side]->empty()) {
        throw UserError(node_.label + ": the " + side_names[side] + " stream has no event time; "
                        "call with_watermark('ts', max_delay=...) on it before the join");
      }
      spec.time_columns[side] = ColumnIndex(schema, *time_columns[side], node_);
      spec.outer[side] = join.how == "outer" || join.how == (side == 0 ? "left" : "right");
    }
    spec.lower_ms = join.lower_ms;
    spec.upper_ms = join.upper_ms;
    spec.merge_keys = join.merge_keys;
    spec.suffix = join.suffix;
    spec.name = node_.label;
    Keyed(MakeIntervalJoin(inputs_[0], inputs_[1], std::move(spec)));
  }
  void operator()(const PortNode&) { PassThrough(PhysicalOperator::Kind::kPort); }
  void operator()(const SinkNode&) { PassThrough(PhysicalOperator::Kind::kSink); }

 private:
  void Transform(std::shared_ptr<BatchTransform> transform) {
    result_.kind = PhysicalOperator::Kind::kTransform;
    result_.transform = std::move(transform);
    result_.output_schemas = {result_.transform->output_schema()};
  }
  void Keyed(std::shared_ptr<KeyedOperator> keyed) {
    result_.kind = PhysicalOperator::Kind::kKeyed;
    result_.keyed = std::move(keyed);
    for (int port = 0; port < result_.keyed->num_ports(); ++port) {
      result_.output_schemas.push_back(result_.keyed->output_schema(port));
    }
  }
  // Rows pass unchanged: the output has the input's schema.
  void PassThrough(PhysicalOperator::Kind kind) {
    result_.kind = kind;
    result_.output_schemas = {inputs_.front()};
  }

  const PlanNode& node_;
  const std::vector<SchemaPtr>& inputs_;
  const PlanHandles& handles_;
  PhysicalOperator& result_;
  const arrow::Schema* input_;
};

}  // namespace

PhysicalOperator BuildOperator(const PlanNode& node, const std::vector<SchemaPtr>& input_schemas,
                               const PlanHandles& handles) {
  MS_CHECK(input_schemas.size() == node.inputs.size(),
           DescribeNode(node) + ": given " + std::to_string(input_schemas.size()) +
               " input schemas for " + std::to_string(node.inputs.size()) + " inputs");
  PhysicalOperator result{};
  std::visit(OperatorBuilder(node, input_schemas, handles, &result), node.options);
  return result;
}

std::vector<SchemaPtr> ResolveNodeSchemas(const PlanNode& node,
                                          const std::vector<SchemaPtr>& input_schemas,
                                          const PlanHandles& handles) {
  return BuildOperator(node, input_schemas, handles).output_schemas;
}

bool PruneKeyedInput(const PlanNode& node, const SchemaPtr& input_schema,
                     const PlanHandles& handles, PhysicalOperator* op) {
  const auto* window = std::get_if<WindowNode>(&node.options);
  const auto* running = std::get_if<RunningAggregateNode>(&node.options);
  if (window == nullptr && running == nullptr) return false;  // a join keeps its inputs whole
  std::vector<bool> read(input_schema->num_fields(), false);
  for (const auto& key : window ? window->keys : running->keys) {
    read[ColumnIndex(*input_schema, key, node)] = true;
  }
  if (window != nullptr && !window->window.processing_time) {
    read[ColumnIndex(*input_schema, window->time_column, node)] = true;
  }
  for (const auto& aggregate : window ? window->aggregates : running->aggregates) {
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
