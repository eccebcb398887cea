#include "plan/plan.h"

#include "core/error.h"

namespace millstream {

namespace {

void CheckHandle(const PlanNode& node, int handle, size_t given, const char* objects) {
  if (handle >= 0 && static_cast<size_t>(handle) < given) return;
  throw PlanError(DescribeNode(node) + ": field 'handle' is " + std::to_string(handle) +
                  ", but the run was given " + std::to_string(given) + " " + objects +
                  " (handles index the objects passed beside the plan)");
}

}  // namespace

std::string_view PlanNode::op() const {
  return std::visit([](const auto& options) { return std::decay_t<decltype(options)>::kOp; }, options);
}

int PlanNode::consumed_port() const {
  const auto* port = std::get_if<PortNode>(&options);
  return port == nullptr ? 0 : port->port;
}

std::string DescribeNode(const PlanNode& node) {
  return "plan node " + std::to_string(node.id) + " (op '" + std::string(node.op()) +
         "', label '" + node.label + "')";
}

const PlanNode& Plan::node(int id) const {
  for (const auto& candidate : nodes) {
    if (candidate.id == id) return candidate;
  }
  MS_CHECK(false, "plan has no node " + std::to_string(id));
  return nodes.front();
}

void CheckHandles(const Plan& plan, const PlanHandles& handles) {
  for (const PlanNode& node : plan.nodes) {
    if (const auto* source = std::get_if<SourceNode>(&node.options)) {
      CheckHandle(node, source->handle, handles.sources.size(), "sources");
    } else if (const auto* map = std::get_if<MapBatchesNode>(&node.options)) {
      CheckHandle(node, map->handle, handles.functions.size(), "functions");
    } else if (const auto* sink = std::get_if<SinkNode>(&node.options)) {
      const SinkKind* kind = FindSinkKind(sink->kind);
      MS_CHECK(kind != nullptr, "the parser admits registered sink kinds only: " + sink->kind);
      if (kind->takes_callback) {
        CheckHandle(node, sink->handle, handles.sink_callbacks.size(), "sink callbacks");
      }
      if (kind->takes_kafka) CheckHandle(node, sink->handle, handles.kafka_sinks.size(), "Kafka sinks");
    }
  }
}

}  // namespace millstream
