// Runs a plan: sources' splits, keyed operators' subtasks and sinks become actors on a TBB arena
// of `parallelism` workers; stateless operators between them run fused in the producing actor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "core/metrics.h"
#include "runtime/checkpoint_coordinator.h"

namespace millstream {

struct RunResult {
  // Batches of every collect sink, by the sink's node id, in source order where it has one.
  std::map<int, std::vector<BatchPtr>> collected;
  std::map<int, SchemaPtr> collected_schemas;
  double seconds = 0;
};

class Executor {
 public:
  // `checkpoints.directory` set: the run takes checkpoints (runtime/checkpoint_coordinator.h);
  // `checkpoints.restore_from` set: it starts from that checkpoint, whose plan must match this
  // one operator by operator (UserError naming the first that differs, thrown here).
  Executor(Plan plan, PlanHandles handles, CheckpointOptions checkpoints = {});
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
  // Checkpoints (issue 17). TriggerCheckpoint asks for one now and returns the id that covers
  // the request (UserError without a checkpoint directory, or once the run ended);
  // WaitForCheckpoint waits up to `timeout_ms` for it to complete (false: not in time, or the
  // run ended first). Savepoint takes one and copies it (real copies, MANIFEST last) to `path`,
  // which must not exist; returns its id. Thread-safe.
  int64_t TriggerCheckpoint();
  bool WaitForCheckpoint(int64_t checkpoint_id, int64_t timeout_ms);
  int64_t Savepoint(const std::string& path, int64_t timeout_ms);
  // Live counters; valid during and after Run.
  const RunMetrics& metrics() const { return metrics_; }

 private:
  // The coordinator's Request, and a task of the run to start it; 0 when no run accepts one.
  int64_t RequestCheckpoint();

  Plan plan_;
  PlanHandles handles_;
  RunMetrics metrics_;
  std::atomic<bool> stop_requested_{false};
  CheckpointOptions checkpoint_options_;
  std::optional<CheckpointManifest> restore_;  // the checkpoint the run starts from
  // Stop with a checkpoint (RequestStop of an unbounded run that takes checkpoints): the splits
  // stop after pushing this checkpoint's barrier, without ending their input (open windows do
  // not fire), so that a run restored from it continues. 0: no such stop.
  std::atomic<int64_t> stop_after_checkpoint_{0};
  std::mutex checkpoint_mutex_;  // guards the three below
  std::shared_ptr<CheckpointCoordinator> coordinator_;
  // Runs a task of the run (its RunTimer, at once), while the run accepts checkpoint requests.
  std::function<void(std::function<void()>)> run_task_;
  bool accepting_checkpoints_ = false;
  bool run_ended_ = false;  // accepting_checkpoints_ went false for good
  std::condition_variable run_state_changed_;
};

}  // namespace millstream
