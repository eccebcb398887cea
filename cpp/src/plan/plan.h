// The logical plan as Python declares it: a list of typed nodes, each naming its inputs. Python
// sends it as JSON in the plan format (plan_parser.h reads it, plan_writer.h writes it; the
// shape is documented in python/millstream/_plan.py, which builds it); objects that JSON can't
// carry (sources, user functions, sinks' callbacks) travel beside it in PlanHandles and are
// referred to by index.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "connectors/sink.h"
#include "connectors/source.h"
#include "ops/batch_transform.h"
#include "ops/window_aggregate.h"
#include "state/state_backend.h"

namespace millstream {

// The plan format this millstream reads and writes; a plan of another version is refused.
inline constexpr int kPlanFormatVersion = 1;

// One struct per operator: the options of that operator, nothing else. kOp is the name the
// plan format gives it.
struct SourceNode {
  static constexpr std::string_view kOp = "source";
  int handle = -1;                            // index into PlanHandles::sources
  // Projection pushdown: the only columns its consumers read (Python's _pushdown.py decides),
  // which the source reads alone (Source::WithColumns). Absent: every column.
  std::optional<std::vector<std::string>> columns;
  // Predicate pushdown: the filter right after it (Parquet sources: Source::WithRowFilter), an
  // expression; absent: none.
  std::optional<std::string> filter_json;
};

struct FilterNode {
  static constexpr std::string_view kOp = "filter";
  std::string predicate_json;                 // an expression (expr/expression_parser.cpp)
};

struct ProjectNode {
  static constexpr std::string_view kOp = "project";
  std::vector<std::string> expressions_json;  // one output column each
};

struct MapBatchesNode {
  static constexpr std::string_view kOp = "map_batches";
  struct Column {
    std::string name, type;                   // type as core/types.h spells it
  };
  int handle = -1;                            // index into PlanHandles::functions
  std::vector<Column> columns;                // what the function returns
  SchemaPtr declared_schema;                  // `columns` as Arrow types
};

struct UnionNode {
  static constexpr std::string_view kOp = "union";
};

struct WatermarkNode {
  static constexpr std::string_view kOp = "watermark";
  std::string time_column;
  int64_t max_delay_ms = 0;
  int64_t idle_timeout_ms = -1;               // -1: never idle
};

// Watermarks given with the rows instead of derived from them (the testing kit's
// ms.testing.events): on a row, `watermark_column` (int64 epoch ms) holds the watermark in force
// from that row on, null where it does not change; the column is dropped from the output.
// `time_column` is the event time the operators downstream read.
struct ExplicitWatermarkNode {
  static constexpr std::string_view kOp = "explicit_watermark";
  std::string time_column;
  std::string watermark_column;
};

struct PlanAggregate {
  std::string kind, column, name;             // column empty: count(*)
};

struct WindowNode {
  static constexpr std::string_view kOp = "window";
  std::vector<std::string> keys;              // empty: one global key
  std::string time_column;                    // empty for a processing-time window
  WindowSpec window;
  int64_t allowed_lateness_ms = 0;
  std::vector<PlanAggregate> aggregates;
};

struct RunningAggregateNode {
  static constexpr std::string_view kOp = "running_agg";
  std::vector<std::string> keys;
  std::vector<PlanAggregate> aggregates;
};

// An interval join of its two inputs (left, right): rows of equal keys with
// right time - left time in [lower_ms, upper_ms] (ops/interval_join.h).
struct JoinNode {
  static constexpr std::string_view kOp = "join";
  std::vector<std::string> left_keys, right_keys;  // equal in number, pairwise of one type
  std::string left_time_column, right_time_column;  // each input's with_watermark column
  int64_t lower_ms = 0, upper_ms = 0;               // inclusive; lower_ms <= upper_ms
  std::string how;                                  // inner | left | right | outer
  std::string suffix;                               // for right columns whose names clash
  bool merge_keys = false;                          // `on`: the keys appear once (coalesced)
};

struct PortNode {
  static constexpr std::string_view kOp = "port";
  int port = 0;                               // which output of the input (1: late rows / dead letters)
};

struct SinkNode {
  static constexpr std::string_view kOp = "sink";
  std::string kind;                           // a registered SinkKind (connectors/sink.h)
  std::string path;                           // kinds that take a path
  int handle = -1;                            // kinds that take a callback or Kafka options:
                                              // PlanHandles::sink_callbacks / kafka_sinks
};

using NodeOptions = std::variant<SourceNode, FilterNode, ProjectNode, MapBatchesNode, UnionNode,
                                 WatermarkNode, ExplicitWatermarkNode, WindowNode,
                                 RunningAggregateNode, JoinNode, PortNode, SinkNode>;

struct PlanNode {
  int id = 0;
  std::vector<int> inputs;
  std::string label;                          // for errors and metrics, e.g. "filter(col(\"x\") > 1)"
  NodeOptions options;

  std::string_view op() const;
  template <typename Options>
  bool is() const { return std::holds_alternative<Options>(options); }
  template <typename Options>
  const Options& as() const { return std::get<Options>(options); }
  // Which output of its input this node reads: a port node's port, else 0.
  int consumed_port() const;
};

// "plan node 3 (op 'filter', label 'filter(x > 1)')": how every message names a node.
std::string DescribeNode(const PlanNode& node);

struct Plan {
  int parallelism = 1;
  int max_parallelism = 128;
  StateOptions state;
  std::vector<PlanNode> nodes;       // in topological order (inputs before consumers)
  const PlanNode& node(int id) const;
};

struct PlanHandles {
  std::vector<std::shared_ptr<Source>> sources;
  std::vector<BatchFunction> functions;
  std::vector<SinkCallback> sink_callbacks;
  std::vector<KafkaSinkOptions> kafka_sinks;  // sink "kafka": its handle indexes these
};

// Throws PlanError naming the node when a node's handle has no object beside the plan.
void CheckHandles(const Plan& plan, const PlanHandles& handles);

}  // namespace millstream
