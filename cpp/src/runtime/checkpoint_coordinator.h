// Takes a run's checkpoints (issue 17; docs/design-notes.md, "Checkpoints"). One checkpoint is
// under way at a time:
//   1. Request() (the interval's timer thread, job.checkpoint()) asks for one; StartIfRequested()
//      starts it from a task of the run: the executor's start hook tells every keyed subtask and
//      sink (a notice: the ones whose inputs all ended ack at once) and wakes parked splits.
//   2. Each source split, at its next step boundary, takes PendingFor(), records its position
//      and chains' state (AckSource) and pushes the barrier down its chains. A split that ended
//      acks with where it ended (SourceEnded), for every later checkpoint too.
//   3. Keyed subtasks and sinks align the barrier over their inputs, write their part into
//      TargetFor()'s directory and ack.
//   4. The last ack writes the MANIFEST (the checkpoint is then complete), runs the commit hook
//      (the sinks' CommitCheckpoint, each in its actor) and removes checkpoints beyond `kept`.
// Thread-safe: acks come from any worker.
//
//   CheckpointCoordinator coordinator(options, PrintOperators(plan), 2, 128, 1, &metrics);
//   int part = coordinator.AddSource(node_id, split);
//   coordinator.Request(); coordinator.StartIfRequested();
//   coordinator.AckSource(part, coordinator.PendingFor(part), position, chain_state);
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/metrics.h"
#include "core/snapshot.h"
#include "runtime/checkpoint_manifest.h"

namespace millstream {

struct CheckpointOptions {
  std::string directory;     // <checkpoint_dir>; empty: the run takes no checkpoints
  int64_t interval_ms = 0;   // 0: only when asked (job.checkpoint())
  int kept = 3;              // complete checkpoints kept; older ones are removed
  std::string restore_from;  // a checkpoint (or savepoint) directory with a MANIFEST, or empty
};

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(CheckpointOptions options, std::vector<OperatorPrint> operators,
                        int parallelism, int max_parallelism, int64_t first_id,
                        CheckpointMetrics* metrics);

  // The parts of the run, registered before it starts; each returns the part's number.
  int AddSource(int node_id, int split);
  int AddKeyed(int node_id, int subtask, int first_key_group, int end_key_group);
  int AddSink(int node_id);
  // Called (from the task that started it) when checkpoint `id` starts / once it is complete.
  void SetHooks(std::function<void(int64_t)> on_started, std::function<void(int64_t)> on_complete);

  // Asks for a checkpoint: returns the id that will cover the request (the next to start; the
  // one after the checkpoint under way), or 0 once the run has ended. The caller then runs
  // StartIfRequested() in a task of the run.
  int64_t Request();
  void StartIfRequested();

  // Sources: the checkpoint this split must inject now (0: none).
  int64_t PendingFor(int part);
  void AckSource(int part, int64_t checkpoint_id, std::string position,
                 std::vector<int64_t> chain_state);
  // The split ended (every later checkpoint takes this position). Returns the checkpoint it
  // must still push a barrier for before its end (acked here), or 0.
  int64_t SourceEnded(int part, std::string position, std::vector<int64_t> chain_state);

  // Keyed subtasks and sinks: where to write their part (created empty).
  SnapshotTarget TargetFor(int part, int64_t checkpoint_id);
  void AckKeyed(int part, int64_t checkpoint_id, bool ended, uint64_t next_sequence,
                std::vector<int64_t> tracker_state);
  void AckSink(int part, int64_t checkpoint_id, bool ended);

  // Waits up to `timeout` for checkpoint `checkpoint_id` (or a later one) to complete. False on
  // timeout or when the run ended first.
  bool WaitFor(int64_t checkpoint_id, std::chrono::milliseconds timeout);
  // The latest complete checkpoint (id, directory), kept (not removed by retention) until
  // Unpin: a savepoint copies it meanwhile. Id 0 when none completed.
  std::pair<int64_t, std::string> PinLatest();
  void Unpin(int64_t checkpoint_id);
  // The run ended: no checkpoint starts any more, one under way counts as failed.
  void Close();
  int64_t last_completed() const;

 private:
  enum class PartKind { kSource, kKeyed, kSink };
  struct Part {
    PartKind kind;
    int node_id = 0;
    int index = 0;  // split or subtask
    int first_key_group = 0, end_key_group = 0;
    std::string directory_name;  // keyed subtasks and sinks: their directory in a checkpoint
    int64_t acked = 0;           // the last checkpoint it acked
    bool source_ended = false;
    SourceSplitPart ended_source;  // a split's final position, once it ended
  };
  int AddPart(Part part);
  void AckLocked(int part, int64_t checkpoint_id);
  // Runs after the last ack, outside the lock.
  void Complete(int64_t checkpoint_id);
  void RemoveOldCheckpoints(int64_t completed_id);
  std::string CheckpointPath(int64_t checkpoint_id) const;
  void ListFiles(const std::string& checkpoint_path, const std::string& relative,
                 std::vector<ManifestFile>* files);

  const CheckpointOptions options_;
  const std::vector<OperatorPrint> operators_;
  const int parallelism_, max_parallelism_;
  CheckpointMetrics* metrics_;
  std::function<void(int64_t)> on_started_, on_complete_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Part> parts_;
  int64_t next_id_;
  int64_t in_flight_ = 0;  // the checkpoint under way, 0: none
  bool start_requested_ = false;
  bool requested_after_ = false;  // another one was asked for while one was under way
  bool closed_ = false;
  int remaining_ = 0;  // parts yet to ack in_flight_
  std::chrono::steady_clock::time_point started_at_;
  CheckpointManifest building_;  // in_flight_'s parts as they ack
  int64_t completed_ = 0;
  std::set<int64_t> pinned_;
  // CRC-32 of files by (device, inode, size, mtime): a file hard-linked from an earlier
  // checkpoint (RocksDB SSTs, a sink's earlier segments) is read once, not at every checkpoint.
  std::map<std::tuple<uint64_t, uint64_t, int64_t, int64_t>, uint32_t> crc_cache_;
};

}  // namespace millstream
