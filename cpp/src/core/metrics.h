// Counters of one operator over a run. Updated from worker threads, read at the end (and by
// job.metrics() while a job runs).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace millstream {

// Where one split of a source stands, for splits that have a place of their own (a Kafka
// partition): its next offset and how far behind the end of its partition it is.
struct SplitProgress {
  explicit SplitProgress(std::string name_) : name(std::move(name_)) {}
  std::string name;                  // e.g. "bids[3]"
  std::atomic<int64_t> position{-1};  // the next offset to read; -1 before the first chunk
  std::atomic<int64_t> lag{-1};       // messages between it and the partition's end; -1: unknown
  std::atomic<bool> paused{false};    // held back: its watermark ran ahead of the slowest split's
};

struct OperatorMetrics {
  explicit OperatorMetrics(std::string name_) : name(std::move(name_)) {}
  std::string name;
  std::atomic<int64_t> rows_in{0};
  std::atomic<int64_t> rows_out{0};
  std::atomic<int64_t> rows_skipped{0};       // bad input with on_error="skip"
  std::atomic<int64_t> rows_dead_letter{0};   // bad input with on_error="dead_letter"
  std::atomic<int64_t> rows_late{0};          // rows later than their window's lateness
  // A row's contributions to sliding windows that had closed (past their lateness) when it came
  // while some of its windows were still open: the row goes to those, not to late() (Flink's rule).
  std::atomic<int64_t> window_contributions_dropped{0};
  std::atomic<int64_t> bytes_read{0};
  // Sources that skip what a query does not need (pushdown): Parquet row groups whose
  // statistics rule the filter out, their rows, and the compressed bytes of column chunks left
  // unread (columns nobody reads, row groups ruled out).
  std::atomic<int64_t> row_groups_pruned{0};
  std::atomic<int64_t> rows_pruned{0};
  std::atomic<int64_t> bytes_pruned{0};
  std::atomic<int64_t> state_entries{0};      // live keyed-state entries (windows, keys)
  std::atomic<int64_t> state_entries_peak{0}; // the most state_entries seen after an input batch
  std::atomic<int64_t> state_reads{0};        // keys looked up in the state backend (cold state)
  std::atomic<int64_t> state_writes{0};       // entries written to the state backend (spilled)
  // Watermark nodes: the largest watermark any split has sent on (INT64_MIN: none yet), what
  // a progress display shows as how far event time got. The operators' watermark is the
  // minimum over splits, which may lag it.
  std::atomic<int64_t> watermark_ms{INT64_MIN};

  void NoteWatermark(int64_t sent_ms) {
    int64_t seen = watermark_ms.load(std::memory_order_relaxed);
    while (sent_ms > seen && !watermark_ms.compare_exchange_weak(seen, sent_ms, std::memory_order_relaxed)) {
    }
  }

  // A source's splits that report progress (AddSplit); entries never move once added.
  SplitProgress* AddSplit(const std::string& split_name) {
    std::lock_guard<std::mutex> lock(splits_mutex);
    return &splits.emplace_back(split_name);
  }
  std::mutex splits_mutex;
  std::deque<SplitProgress> splits;

  // Kafka group members: the partitions whose offsets a stop could not commit (revoked while
  // the group rebalanced, or refused until the retry time ran out), e.g. "bids[3]". Their next
  // owner reads them from the group's last commit. Guarded by splits_mutex.
  void NoteNotCommitted(const std::vector<std::string>& partition_names) {
    std::lock_guard<std::mutex> lock(splits_mutex);
    partitions_not_committed.insert(partitions_not_committed.end(), partition_names.begin(),
                                    partition_names.end());
  }
  std::vector<std::string> partitions_not_committed;
  void NotePeakState() {
    const int64_t now = state_entries.load(std::memory_order_relaxed);
    int64_t peak = state_entries_peak.load(std::memory_order_relaxed);
    while (now > peak && !state_entries_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
};

// The checkpoints of a run (issue 17), for job.metrics(): the last complete one's id, how long
// it took from its trigger to its MANIFEST, its size (the bytes its MANIFEST lists, hard-linked
// files included) and when it completed (Unix ms, 0: none yet; the age is computed when read).
struct CheckpointMetrics {
  std::atomic<bool> enabled{false};
  std::atomic<int64_t> last_id{0};
  std::atomic<int64_t> last_duration_ms{0};
  std::atomic<int64_t> last_size_bytes{0};
  std::atomic<int64_t> last_completed_unix_ms{0};
  std::atomic<int64_t> completed{0};
  // Triggered and never completed: the run failed or ended while it was under way.
  std::atomic<int64_t> failed{0};
};

// All operators' metrics of one run; entries never move once added.
class RunMetrics {
 public:
  CheckpointMetrics checkpoints;
  OperatorMetrics* Add(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    return &operators_.emplace_back(name);
  }
  const std::deque<OperatorMetrics>& operators() const { return operators_; }

 private:
  std::mutex mutex_;
  std::deque<OperatorMetrics> operators_;
};

}  // namespace millstream
