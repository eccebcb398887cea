// The logical plan as Python declares it: a list of nodes, each naming its inputs. Python sends
// it as JSON (plan.py); objects that JSON can't carry (sources, user functions, sinks' callbacks)
// travel beside it in PlanHandles and are referred to by index.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka_sink.h"
#include "connectors/source.h"
#include "ops/batch_transform.h"
#include "state/state_backend.h"

namespace millstream {

struct PlanNode {
  int id = 0;
  std::string op;  // source | filter | project | map_batches | union | watermark | window |
                   // running_agg | port | sink
  std::vector<int> inputs;
  std::string label;                 // for errors and metrics, e.g. "filter(col(\"x\") > 1)"

  int handle = -1;                   // source, map_batches, sink callback: index into PlanHandles
  std::string predicate_json;        // filter
  std::vector<std::string> expressions_json;  // project
  SchemaPtr declared_schema;         // map_batches

  std::string time_column;           // watermark, window
  int64_t max_delay_ms = 0;          // watermark
  int64_t idle_timeout_ms = -1;      // watermark; -1: never idle

  std::vector<std::string> keys;     // window, running_agg
  std::string window_kind;           // window: tumbling | sliding | session
  int64_t size_ms = 0, slide_ms = 0, offset_ms = 0, gap_ms = 0;
  bool processing_time = false;
  int64_t allowed_lateness_ms = 0;   // window
  struct Aggregate {
    std::string kind, column, name;  // column empty: count(*)
  };
  std::vector<Aggregate> aggregates; // window, running_agg

  int port = 0;                      // port: which output of inputs[0] (1 = late rows / dead letters)

  std::string sink_kind;             // sink: collect | callback | csv | jsonl | parquet | kafka
  std::string path;                  // sink (files)
};

struct Plan {
  int parallelism = 1;
  int max_parallelism = 128;
  StateOptions state;
  std::vector<PlanNode> nodes;       // in topological order (inputs before consumers)
  const PlanNode& node(int id) const;
};

using SinkCallback = std::function<void(const BatchPtr&)>;

struct PlanHandles {
  std::vector<std::shared_ptr<Source>> sources;
  std::vector<BatchFunction> functions;
  std::vector<SinkCallback> sink_callbacks;
  std::vector<KafkaSinkOptions> kafka_sinks;  // sink "kafka": its handle indexes these
};

Plan ParsePlan(std::string_view plan_json);
PlanNode ParseNode(std::string_view node_json);

}  // namespace millstream
