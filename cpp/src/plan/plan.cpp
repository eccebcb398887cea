#include "plan/plan.h"

#include <simdjson.h>

#include "core/error.h"
#include "core/types.h"

namespace millstream {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::string GetString(object node, const char* key, const std::string& fallback = "") {
  std::string_view value;
  if (node[key].get(value) != simdjson::SUCCESS) return fallback;
  return std::string(value);
}

int64_t GetInt(object node, const char* key, int64_t fallback) {
  int64_t value;
  if (node[key].get(value) != simdjson::SUCCESS) return fallback;
  return value;
}

PlanNode ParseNodeElement(object node) {
  PlanNode result;
  result.id = static_cast<int>(GetInt(node, "id", -1));
  result.op = GetString(node, "op");
  result.label = GetString(node, "label", result.op);
  simdjson::dom::array inputs;
  if (node["inputs"].get(inputs) == simdjson::SUCCESS) {
    for (element input : inputs) result.inputs.push_back(static_cast<int>(int64_t(input)));
  }
  result.handle = static_cast<int>(GetInt(node, "handle", -1));
  element predicate;
  if (node["predicate"].get(predicate) == simdjson::SUCCESS) {
    result.predicate_json = simdjson::to_string(predicate);
  }
  simdjson::dom::array expressions;
  if (node["expressions"].get(expressions) == simdjson::SUCCESS) {
    for (element expression : expressions) {
      result.expressions_json.push_back(simdjson::to_string(expression));
    }
  }
  simdjson::dom::array schema;
  if (node["schema"].get(schema) == simdjson::SUCCESS) {
    arrow::FieldVector fields;
    for (element field : schema) {
      simdjson::dom::array pair = field;
      fields.push_back(arrow::field(std::string(std::string_view(pair.at(0))),
                                    ParseType(std::string(std::string_view(pair.at(1))))));
    }
    result.declared_schema = arrow::schema(std::move(fields));
  }
  result.time_column = GetString(node, "time_column");
  result.max_delay_ms = GetInt(node, "max_delay_ms", 0);
  result.idle_timeout_ms = GetInt(node, "idle_timeout_ms", -1);
  simdjson::dom::array keys;
  if (node["keys"].get(keys) == simdjson::SUCCESS) {
    for (element key : keys) result.keys.emplace_back(std::string_view(key));
  }
  object window;
  if (node["window"].get(window) == simdjson::SUCCESS) {
    result.window_kind = GetString(window, "kind");
    result.size_ms = GetInt(window, "size_ms", 0);
    result.slide_ms = GetInt(window, "slide_ms", 0);
    result.offset_ms = GetInt(window, "offset_ms", 0);
    result.gap_ms = GetInt(window, "gap_ms", 0);
    result.processing_time = GetString(window, "time", "event") == "processing";
  }
  result.allowed_lateness_ms = GetInt(node, "allowed_lateness_ms", 0);
  simdjson::dom::array aggregates;
  if (node["aggregates"].get(aggregates) == simdjson::SUCCESS) {
    for (element aggregate : aggregates) {
      object spec = aggregate;
      result.aggregates.push_back(
          {GetString(spec, "kind"), GetString(spec, "column"), GetString(spec, "name")});
    }
  }
  result.port = static_cast<int>(GetInt(node, "port", 0));
  result.sink_kind = GetString(node, "sink");
  result.path = GetString(node, "path");
  return result;
}

}  // namespace

const PlanNode& Plan::node(int id) const {
  for (const auto& candidate : nodes) {
    if (candidate.id == id) return candidate;
  }
  MS_CHECK(false, "plan has no node " + std::to_string(id));
  return nodes.front();
}

PlanNode ParseNode(std::string_view node_json) {
  simdjson::dom::parser parser;
  object node;
  if (parser.parse(node_json.data(), node_json.size()).get(node) != simdjson::SUCCESS) {
    MS_CHECK(false, "plan node is not a JSON object: " + std::string(node_json));
  }
  return ParseNodeElement(node);
}

Plan ParsePlan(std::string_view plan_json) {
  simdjson::dom::parser parser;
  object root;
  if (parser.parse(plan_json.data(), plan_json.size()).get(root) != simdjson::SUCCESS) {
    MS_CHECK(false, "plan is not a JSON object");
  }
  Plan plan;
  plan.parallelism = static_cast<int>(GetInt(root, "parallelism", 1));
  plan.max_parallelism = static_cast<int>(GetInt(root, "max_parallelism", 128));
  object state;
  if (root["state"].get(state) == simdjson::SUCCESS) {
    plan.state.kind = GetString(state, "kind", "memory");
    plan.state.directory = GetString(state, "directory");
    plan.state.cache_bytes = GetInt(state, "cache_bytes", plan.state.cache_bytes);
  }
  for (element node : simdjson::dom::array(root["nodes"])) plan.nodes.push_back(ParseNodeElement(node));
  if (plan.parallelism < 1 || plan.parallelism > plan.max_parallelism) {
    throw UserError("parallelism must be between 1 and max_parallelism (" +
                    std::to_string(plan.max_parallelism) + "), got " +
                    std::to_string(plan.parallelism));
  }
  return plan;
}

}  // namespace millstream
