#include "plan/plan_parser.h"

#include <limits>
#include <set>

#include <simdjson.h>

#include "core/error.h"
#include "core/types.h"
#include "plan/json_fields.h"

namespace millstream {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kIntMin = std::numeric_limits<int>::min();

object ParseObject(simdjson::dom::parser* parser, std::string_view json, const char* what) {
  element root;
  const auto error = parser->parse(json.data(), json.size()).get(root);
  if (error != simdjson::SUCCESS) {
    throw PlanError(std::string(what) + " is not valid JSON (" + simdjson::error_message(error) +
                    "): " + std::string(json.substr(0, 200)));
  }
  object result;
  if (root.get(result) != simdjson::SUCCESS) {
    throw PlanError(std::string(what) + " is " + JsonTypeName(root.type()) +
                    ", expected a JSON object");
  }
  return result;
}

void CheckVersion(JsonFields& fields) {
  if (!fields.Has("version")) {
    throw PlanError(fields.where() + " has no field 'version'; this millstream reads plan format "
                    "version " + std::to_string(kPlanFormatVersion) +
                    ": build the plan with the millstream that runs it");
  }
  const int64_t version = fields.Int("version");
  if (version != kPlanFormatVersion) {
    throw PlanError(fields.where() + " is in plan format version " + std::to_string(version) +
                    "; this millstream reads version " + std::to_string(kPlanFormatVersion) +
                    " only: build the plan with the millstream that runs it");
  }
}

std::vector<PlanAggregate> ParseAggregates(JsonFields& fields) {
  std::vector<PlanAggregate> aggregates;
  int index = 0;
  for (element item : fields.Array("aggregates")) {
    object spec;
    if (item.get(spec) != simdjson::SUCCESS) {
      fields.Fail("aggregates", std::string("holds ") + JsonTypeName(item.type()) +
                                    ", expected aggregate objects only");
    }
    JsonFields aggregate(spec, fields.where(), "aggregates[" + std::to_string(index++) + "].");
    aggregates.push_back({aggregate.String("kind"), aggregate.String("column"), aggregate.String("name")});
    aggregate.RejectUnread();
  }
  return aggregates;
}

WindowSpec ParseWindow(JsonFields& fields) {
  JsonFields window(fields.Object("window"), fields.where(), "window.");
  WindowSpec spec;
  const std::string kind = window.String("kind");
  if (kind == "tumbling") {
    spec.kind = WindowSpec::Kind::kTumbling;
  } else if (kind == "sliding") {
    spec.kind = WindowSpec::Kind::kSliding;
  } else if (kind == "session") {
    spec.kind = WindowSpec::Kind::kSession;
  } else {
    window.Fail("kind", "is '" + kind + "'; window kinds: tumbling, sliding, session");
  }
  spec.size_ms = window.Int("size_ms");
  spec.slide_ms = window.Int("slide_ms");
  spec.offset_ms = window.Int("offset_ms");
  spec.gap_ms = window.Int("gap_ms");
  const std::string time = window.String("time");
  if (time != "event" && time != "processing") {
    window.Fail("time", "is '" + time + "'; expected 'event' or 'processing'");
  }
  spec.processing_time = time == "processing";
  window.RejectUnread();
  return spec;
}

std::vector<MapBatchesNode::Column> ParseDeclaredColumns(JsonFields& fields) {
  std::vector<MapBatchesNode::Column> columns;
  for (element item : fields.Array("schema")) {
    simdjson::dom::array pair;
    std::string_view name, type;
    if (item.get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
        pair.at(0).get(name) != simdjson::SUCCESS || pair.at(1).get(type) != simdjson::SUCCESS) {
      fields.Fail("schema", "holds " + simdjson::to_string(item) +
                                "; expected [name, type] pairs of strings");
    }
    columns.push_back({std::string(name), std::string(type)});
  }
  return columns;
}

JoinNode ParseJoin(JsonFields& fields) {
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
  JoinNode join;
  join.left_keys = fields.Strings("left_keys");
  join.right_keys = fields.Strings("right_keys");
  if (join.left_keys.empty() || join.left_keys.size() != join.right_keys.size()) {
    fields.Fail("right_keys", "names " + std::to_string(join.right_keys.size()) +
                                  " columns and left_keys " + std::to_string(join.left_keys.size()) +
                                  "; a join needs one or more keys, as many on each side");
  }
  join.left_time_column = fields.String("left_time_column");
  join.right_time_column = fields.String("right_time_column");
  join.lower_ms = fields.IntIn("lower_ms", kInt64Min, kInt64Max);
  join.upper_ms = fields.IntIn("upper_ms", kInt64Min, kInt64Max);
  if (join.lower_ms > join.upper_ms) {
    fields.Fail("upper_ms", "is " + std::to_string(join.upper_ms) + ", below lower_ms " +
                                std::to_string(join.lower_ms) + "; the interval is [lower, upper]");
  }
  join.how = fields.String("how");
  if (join.how != "inner" && join.how != "left" && join.how != "right" && join.how != "outer") {
    fields.Fail("how", "is '" + join.how + "'; expected inner, left, right or outer");
  }
  join.suffix = fields.String("suffix");
  join.merge_keys = fields.Bool("merge_keys");
  return join;
}

NodeOptions ParseOptions(std::string_view op, JsonFields& fields) {
  if (op == SourceNode::kOp) {
    SourceNode source{static_cast<int>(fields.IntIn("handle", 0, kIntMax)), std::nullopt,
                      std::nullopt};
    // Optional, unlike every other field: plans written before pushdown read all.
    if (fields.Has("columns")) source.columns = fields.Strings("columns");
    if (fields.Has("filter")) source.filter_json = fields.RawObject("filter");
    return source;
  }
  if (op == FilterNode::kOp) return FilterNode{fields.RawObject("predicate")};
  if (op == ProjectNode::kOp) {
    ProjectNode project;
    for (element expression : fields.Array("expressions")) {
      if (expression.type() != simdjson::dom::element_type::OBJECT) {
        fields.Fail("expressions", std::string("holds ") + JsonTypeName(expression.type()) +
                                       ", expected expression objects only");
      }
      project.expressions_json.push_back(simdjson::to_string(expression));
    }
    return project;
  }
  if (op == MapBatchesNode::kOp) {
    MapBatchesNode map;
    map.handle = static_cast<int>(fields.IntIn("handle", 0, kIntMax));
    map.columns = ParseDeclaredColumns(fields);
    arrow::FieldVector arrow_fields;
    for (const auto& column : map.columns) {
      try {
        arrow_fields.push_back(arrow::field(column.name, ParseType(column.type)));
      } catch (const UserError& error) {
        fields.Fail("schema", "column '" + column.name + "': " + error.what());
      }
    }
    map.declared_schema = arrow::schema(std::move(arrow_fields));
    return map;
  }
  if (op == UnionNode::kOp) return UnionNode{};
  if (op == WatermarkNode::kOp) {
    WatermarkNode watermark;
    watermark.time_column = fields.String("time_column");
    watermark.max_delay_ms = fields.IntIn("max_delay_ms", 0, std::numeric_limits<int64_t>::max());
    watermark.idle_timeout_ms = fields.IntIn("idle_timeout_ms", -1, std::numeric_limits<int64_t>::max());
    return watermark;
  }
  if (op == ExplicitWatermarkNode::kOp) {
    ExplicitWatermarkNode watermark;
    watermark.time_column = fields.String("time_column");
    watermark.watermark_column = fields.String("watermark_column");
    return watermark;
  }
  if (op == WindowNode::kOp) {
    WindowNode window;
    window.keys = fields.Strings("keys");
    window.time_column = fields.String("time_column");
    window.window = ParseWindow(fields);
    window.allowed_lateness_ms =
        fields.IntIn("allowed_lateness_ms", 0, std::numeric_limits<int64_t>::max());
    window.aggregates = ParseAggregates(fields);
    return window;
  }
  if (op == RunningAggregateNode::kOp) {
    RunningAggregateNode running;
    running.keys = fields.Strings("keys");
    running.aggregates = ParseAggregates(fields);
    return running;
  }
  if (op == JoinNode::kOp) return ParseJoin(fields);
  if (op == PortNode::kOp) return PortNode{static_cast<int>(fields.IntIn("port", 0, kIntMax))};
  if (op == SinkNode::kOp) {
    SinkNode sink;
    sink.kind = fields.String("sink");
    const SinkKind* kind = FindSinkKind(sink.kind);
    if (kind == nullptr) fields.Fail("sink", "is '" + sink.kind + "'; sink kinds: " + SinkKindNames());
    if (kind->takes_path) sink.path = fields.String("path");
    if (kind->takes_callback || kind->takes_kafka) {
      sink.handle = static_cast<int>(fields.IntIn("handle", 0, kIntMax));
    }
    return sink;
  }
  fields.Fail("op", "is '" + std::string(op) +
                        "'; operators: source, filter, project, map_batches, union, watermark, "
                        "explicit_watermark, window, running_agg, join, port, sink");
}

// How many inputs each operator takes: [min, max].
std::pair<size_t, size_t> InputArity(const PlanNode& node) {
  if (node.is<SourceNode>()) return {0, 0};
  if (node.is<UnionNode>()) return {1, std::numeric_limits<size_t>::max()};
  if (node.is<JoinNode>()) return {2, 2};
  return {1, 1};
}

PlanNode ParseNode(object node_object, const std::string& position) {
  // Until the node's id, op and label are read, messages name its position.
  JsonFields fields(node_object, position);
  PlanNode node;
  node.id = static_cast<int>(fields.IntIn("id", kIntMin, kIntMax));
  const std::string op = fields.String("op");
  node.label = fields.String("label");
  fields.set_where("plan node " + std::to_string(node.id) + " (op '" + op + "', label '" +
                   node.label + "')");
  for (int64_t input : fields.Ints("inputs")) {
    if (input < kIntMin || input > kIntMax) {
      fields.Fail("inputs", "holds " + std::to_string(input) + ", which is not a node id");
    }
    node.inputs.push_back(static_cast<int>(input));
  }
  node.options = ParseOptions(op, fields);
  fields.RejectUnread();
  const auto [min_inputs, max_inputs] = InputArity(node);
  if (node.inputs.size() < min_inputs || node.inputs.size() > max_inputs) {
    fields.Fail("inputs", "names " + std::to_string(node.inputs.size()) + " inputs; " + op +
                              (max_inputs == 0             ? " takes none"
                               : min_inputs == 2 && max_inputs == 2 ? " takes exactly two"
                               : min_inputs == max_inputs ? " takes exactly one"
                                                          : " takes one or more"));
  }
  return node;
}

StateOptions ParseState(JsonFields& fields) {
  JsonFields state(fields.Object("state"), fields.where(), "state.");
  StateOptions options;
  options.kind = state.String("kind");
  if (options.kind != "memory" && options.kind != "rocksdb") {
    state.Fail("kind", "is '" + options.kind + "'; expected 'memory' or 'rocksdb'");
  }
  options.directory = state.String("directory");
  options.cache_bytes = state.IntIn("cache_bytes", 0, std::numeric_limits<int64_t>::max());
  state.RejectUnread();
  return options;
}

}  // namespace

Plan ParsePlan(std::string_view plan_json) {
  simdjson::dom::parser parser;
  JsonFields fields(ParseObject(&parser, plan_json, "the plan"), "the plan");
  CheckVersion(fields);
  Plan plan;
  plan.max_parallelism = static_cast<int>(fields.IntIn("max_parallelism", 1, kIntMax));
  plan.parallelism = static_cast<int>(fields.Int("parallelism"));
  if (plan.parallelism < 1 || plan.parallelism > plan.max_parallelism) {
    throw UserError("parallelism must be between 1 and max_parallelism (" +
                    std::to_string(plan.max_parallelism) + "), got " +
                    std::to_string(plan.parallelism));
  }
  plan.state = ParseState(fields);
  std::set<int> seen;
  int position = 0;
  for (element value : fields.Array("nodes")) {
    const std::string where = "plan node at position " + std::to_string(position++) + " of 'nodes'";
    object node_object;
    if (value.get(node_object) != simdjson::SUCCESS) {
      throw PlanError(where + " is " + JsonTypeName(value.type()) + ", expected an object");
    }
    PlanNode node = ParseNode(node_object, where);
    for (int input : node.inputs) {
      if (seen.count(input) == 0) {
        throw PlanError(DescribeNode(node) + ": field 'inputs' names node " + std::to_string(input) +
                        ", which is not earlier in the plan (nodes come inputs first)");
      }
    }
    if (!seen.insert(node.id).second) {
      throw PlanError(DescribeNode(node) + ": field 'id' repeats the id of an earlier node");
    }
    plan.nodes.push_back(std::move(node));
  }
  fields.RejectUnread();
  return plan;
}

PlanNode ParseNodeDocument(std::string_view document_json) {
  simdjson::dom::parser parser;
  JsonFields fields(ParseObject(&parser, document_json, "the plan node document"),
                    "the plan node document");
  CheckVersion(fields);
  PlanNode result = ParseNode(fields.Object("node"), "the document's node");
  fields.RejectUnread();
  return result;
}

}  // namespace millstream
