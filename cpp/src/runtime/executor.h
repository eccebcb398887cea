// Runs a plan: sources' splits, keyed operators' subtasks and sinks become actors on a TBB arena
// of `parallelism` workers; stateless operators between them run fused in the producing actor.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "core/metrics.h"

namespace millstream {

struct RunResult {
  // Batches of every collect sink, by the sink's node id, in source order where it has one.
  std::map<int, std::vector<BatchPtr>> collected;
  std::map<int, SchemaPtr> collected_schemas;
  double seconds = 0;
};

class Executor {
 public:
  Executor(Plan plan, PlanHandles handles);
  ~Executor();
  // Blocks until the run ends; throws the first error of any task (UserError, a callback's
  // exception, Cancelled when `cancel` became true).
  RunResult Run(const std::atomic<bool>& cancel);
  // Ends the run gracefully (job.stop() on an unbounded run): each source split ends where it
  // is, as if its input ended there (windows close with the final watermark), what was read
  // drains to the sinks, the sinks finish and the splits commit what they returned
  // (SourceSplit::OnRunSucceeded); Run then returns normally. Prompt: a resting split notices
  // within kWaitingSplitRetry, a reading one after its current chunk. Thread-safe.
  void RequestStop();
  bool stop_requested() const { return stop_requested_.load(); }
  // False when a source is unbounded (its run ends only by RequestStop or cancel).
  bool bounded() const;
  // Live counters; valid during and after Run.
  const RunMetrics& metrics() const { return metrics_; }

 private:
  Plan plan_;
  PlanHandles handles_;
  RunMetrics metrics_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace millstream
