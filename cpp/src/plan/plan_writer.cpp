#include "plan/plan_writer.h"

#include "core/error.h"
#include "core/json_string.h"

namespace millstream {

namespace {

// Appends `"key": ` after a comma when the object already has fields.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  ObjectWriter& Key(std::string_view key) {
    if (!first_) out_->append(", ");
    first_ = false;
    AppendJsonString(key, out_);
    out_->append(": ");
    return *this;
  }
  void Int(std::string_view key, int64_t value) { Key(key).out_->append(std::to_string(value)); }
  void String(std::string_view key, std::string_view value) { AppendJsonString(value, Key(key).out_); }
  void Raw(std::string_view key, std::string_view json) { Key(key).out_->append(json); }
  void Bool(std::string_view key, bool value) { Key(key).out_->append(value ? "true" : "false"); }
  void Strings(std::string_view key, const std::vector<std::string>& values) {
    Key(key);
    AppendList(values, [this](const std::string& value) { AppendJsonString(value, out_); });
  }
  template <typename Item, typename AppendItem>
  void AppendList(const std::vector<Item>& items, AppendItem append_item) {
    out_->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_->append(", ");
      append_item(items[i]);
    }
    out_->push_back(']');
  }
  std::string* out() { return out_; }
  void Close() { out_->push_back('}'); }

 private:
  std::string* out_;
  bool first_ = true;
};

const char* WindowKindName(WindowSpec::Kind kind) {
  switch (kind) {
    case WindowSpec::Kind::kTumbling: return "tumbling";
    case WindowSpec::Kind::kSliding: return "sliding";
    case WindowSpec::Kind::kSession: return "session";
  }
  MS_CHECK(false, "unknown window kind");
  return "";
}

void WriteAggregates(ObjectWriter& object, const std::vector<PlanAggregate>& aggregates) {
  object.Key("aggregates");
  object.AppendList(aggregates, [&](const PlanAggregate& aggregate) {
    ObjectWriter spec(object.out());
    spec.String("kind", aggregate.kind);
    spec.String("column", aggregate.column);
    spec.String("name", aggregate.name);
    spec.Close();
  });
}

// The operator's own fields, in the order _plan.py documents them.
struct OptionsWriter {
  ObjectWriter& object;

  void operator()(const SourceNode& source) {
    object.Int("handle", source.handle);
    if (source.columns) object.Strings("columns", *source.columns);
    if (source.filter_json) object.Raw("filter", *source.filter_json);
  }
  void operator()(const FilterNode& filter) { object.Raw("predicate", filter.predicate_json); }
  void operator()(const ProjectNode& project) {
    object.Key("expressions");
    object.AppendList(project.expressions_json, [&](const std::string& json) { object.out()->append(json); });
  }
  void operator()(const MapBatchesNode& map) {
    object.Int("handle", map.handle);
    object.Key("schema");
    object.AppendList(map.columns, [&](const MapBatchesNode::Column& column) {
      object.out()->push_back('[');
      AppendJsonString(column.name, object.out());
      object.out()->append(", ");
      AppendJsonString(column.type, object.out());
      object.out()->push_back(']');
    });
  }
  void operator()(const UnionNode&) {}
  void operator()(const WatermarkNode& watermark) {
    object.String("time_column", watermark.time_column);
    object.Int("max_delay_ms", watermark.max_delay_ms);
    object.Int("idle_timeout_ms", watermark.idle_timeout_ms);
  }
  void operator()(const ExplicitWatermarkNode& watermark) {
    object.String("time_column", watermark.time_column);
    object.String("watermark_column", watermark.watermark_column);
  }
  void operator()(const WindowNode& window) {
    object.Strings("keys", window.keys);
    object.String("time_column", window.time_column);
    object.Key("window");
    ObjectWriter spec(object.out());
    spec.String("kind", WindowKindName(window.window.kind));
    spec.Int("size_ms", window.window.size_ms);
    spec.Int("slide_ms", window.window.slide_ms);
    spec.Int("offset_ms", window.window.offset_ms);
    spec.Int("gap_ms", window.window.gap_ms);
    spec.String("time", window.window.processing_time ? "processing" : "event");
    spec.Close();
    object.Int("allowed_lateness_ms", window.allowed_lateness_ms);
    WriteAggregates(object, window.aggregates);
  }
  void operator()(const RunningAggregateNode& running) {
    object.Strings("keys", running.keys);
    WriteAggregates(object, running.aggregates);
  }
  void operator()(const JoinNode& join) {
    object.Strings("left_keys", join.left_keys);
    object.Strings("right_keys", join.right_keys);
    object.String("left_time_column", join.left_time_column);
    object.String("right_time_column", join.right_time_column);
    object.Int("lower_ms", join.lower_ms);
    object.Int("upper_ms", join.upper_ms);
    object.String("how", join.how);
    object.String("suffix", join.suffix);
    object.Bool("merge_keys", join.merge_keys);
  }
  void operator()(const PortNode& port) { object.Int("port", port.port); }
  void operator()(const SinkNode& sink) {
    const SinkKind* kind = FindSinkKind(sink.kind);
    MS_CHECK(kind != nullptr, "a sink node of an unregistered kind: " + sink.kind);
    object.String("sink", sink.kind);
    if (kind->takes_path) object.String("path", sink.path);
    if (kind->takes_callback || kind->takes_kafka) object.Int("handle", sink.handle);
  }
};

void AppendNode(const PlanNode& node, std::string* out) {
  ObjectWriter object(out);
  object.Int("id", node.id);
  object.String("op", node.op());
  object.Key("inputs");
  object.AppendList(node.inputs, [&](int input) { out->append(std::to_string(input)); });
  object.String("label", node.label);
  std::visit(OptionsWriter{object}, node.options);
  object.Close();
}

}  // namespace

std::string WriteNode(const PlanNode& node) {
  std::string out;
  AppendNode(node, &out);
  return out;
}

std::string WritePlan(const Plan& plan) {
  std::string out;
  ObjectWriter object(&out);
  object.Int("version", kPlanFormatVersion);
  object.Int("parallelism", plan.parallelism);
  object.Int("max_parallelism", plan.max_parallelism);
  object.Key("state");
  ObjectWriter state(&out);
  state.String("kind", plan.state.kind);
  state.String("directory", plan.state.directory);
  state.Int("cache_bytes", plan.state.cache_bytes);
  state.Close();
  object.Key("nodes");
  object.AppendList(plan.nodes, [&](const PlanNode& node) { AppendNode(node, &out); });
  object.Close();
  return out;
}

}  // namespace millstream
