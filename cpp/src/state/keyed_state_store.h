// The keyed state of one operator subtask beyond its hot tier: one store that every keyed
// operator (running aggregation, window states, later joins) builds on, so that the budget,
// eviction, read-back, write-back, metrics and checkpoint hooks are written once.
//
// The operator keeps its hot entries in its own layout (a key's running accumulators, a window
// group, a key's sessions) and names each by a dense id of its choosing (its group or key slot).
// It tells the store when an entry is made, touched and removed, and supplies, through
// KeyedEntryCodec, an entry's state key ([key_group u16 BE][key bytes][namespace bytes], as
// DESIGN.md lays keys out), its value bytes, and how to let it go. The store owns the rest:
//   - the hot budget: at FinishStep, when the operator's hot bytes plus the store's own exceed
//     the subtask's share of state_memory, the least recently touched entries are written to the
//     backend (state/evict_oldest.h) until three quarters of the budget remain;
//   - a Bloom filter of the keys in the backend, so new keys never ask it;
//   - read-back: the cold keys an input batch needs are queued and read in one MultiGet, sorted
//     by key (so grouped by key group, as RocksDB's files are); an entry read back keeps its copy
//     in the backend, overwritten when it is written back again (one Put instead of a Delete now
//     and a Put later);
//   - write-back: evicted entries are buffered by the backend and committed once per step in one
//     sorted WriteBatch;
//   - the metrics state_entries (hot + cold, each entry once; added at FinishStep), state_reads,
//     state_writes;
//   - checkpoint hooks: Snapshot writes every entry of a key-group range (hot ones serialised,
//     cold ones from the backend) in key order; Restore puts such entries back, cold; for the
//     checkpoints of a run (issue 17, ops/keyed_snapshot.h) WriteHotForCheckpoint writes the hot
//     entries to the backend before its checkpoint (they stay hot), WriteBookkeeping keeps what
//     the store knows of the backend, and Restored takes a restored backend's entries as cold;
//   - optionally a time index of the entries in the backend (UseTimeIndex): a second column
//     family [key_group][time][key] -> a copy of the value (or nothing), written and deleted
//     with each entry, for operators that must find their cold entries by time (the panes a
//     window firing needs, the sessions a watermark makes due). The entry's time (a pane end,
//     a deadline) comes from the codec (IndexTime); the backend stores it before the value.
//
// Example (an operator with one accumulator row per key):
//   KeyedStateStore store(backend, "running_acc", context.hot_state_bytes, metrics, &codec);
//   uint32_t entry = NewGroup(...);          // the operator's id
//   store.Add(entry, step);                  // a new hot entry
//   if (store.MayBeCold(key)) store.RequestLoad(entry, key);
//   store.LoadRequested([&](uint32_t entry, std::string_view value) { Deserialize(...); });
//   ... update the hot entries, store.Touch(entry, step) ...
//   store.FinishStep();                      // evict when over budget, commit the writes
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/metrics.h"
#include "state/growing_bloom_filter.h"
#include "state/state_backend.h"

namespace millstream {

// What an operator tells the store about its entries: their key layout and value bytes.
class KeyedEntryCodec {
 public:
  virtual ~KeyedEntryCodec() = default;
  // Appends the entry's state key: [key_group u16 BE][key bytes][namespace bytes].
  virtual void AppendStateKey(uint32_t entry, std::string* key) const = 0;
  // Appends the entry's value as the backend stores it.
  virtual void Serialize(uint32_t entry, std::string* value) = 0;
  // The entry was written to the backend and leaves the hot tier: free it (the id may be reused
  // for a new entry afterwards).
  virtual void Evicted(uint32_t entry) = 0;
  // Bytes of hot state the operator holds (tables, accumulator rows, their heap).
  virtual int64_t HotBytes() const = 0;
  // With a time index (KeyedStateStore::UseTimeIndex): the entry's time in it now.
  virtual int64_t IndexTime(uint32_t entry) const {
    (void)entry;
    return 0;
  }
  // Operators that already note when each entry was last touched (an accumulator header) say
  // so here, and the store asks them at eviction instead of being told by Touch() per row.
  virtual bool TracksTouches() const { return false; }
  virtual uint32_t LastTouched(uint32_t entry) const {
    (void)entry;
    return 0;
  }
};

// The time index of a store (KeyedStateStore::UseTimeIndex).
struct TimeIndexOptions {
  std::string column_family;     // e.g. "window_timer": [key_group][time][key bytes]
  // The state key is [key_group][key][time] (a pane's groups), not [key_group][key].
  bool time_in_state_key = false;
  // The index entry holds a copy of the value (a pane fires with one scan, not a Get each).
  bool copy_value = false;
  // An entry read back leaves the backend (its index time may change while it is hot, and an
  // index entry left behind would be found again at every scan; sessions), instead of keeping
  // a copy that its next eviction overwrites (one Put instead of a Delete and a Put).
  bool take_on_load = false;
};

class KeyedStateStore {
 public:
  // `hot_budget_bytes` < 0: unbounded (nothing is ever evicted). `metrics` may be null.
  KeyedStateStore(StateBackend& backend, const std::string& column_family,
                  int64_t hot_budget_bytes, OperatorMetrics* metrics, KeyedEntryCodec* codec);
  // Keeps a time index of the entries in the backend; call before the first Add.
  void UseTimeIndex(const TimeIndexOptions& options);
  // state_entries counts something else than this store's entries (a session window counts
  // sessions; its entries are keys): the operator keeps it, the store leaves it alone.
  void LeaveEntryCountToOperator() { count_entries_ = false; }
  // Takes the store's entries out of state_entries (the run's metrics outlive the state).
  ~KeyedStateStore();
  KeyedStateStore(const KeyedStateStore&) = delete;
  KeyedStateStore& operator=(const KeyedStateStore&) = delete;

  // ---- the hot tier -----------------------------------------------------------------------
  // A new hot entry, touched at `step` (the operator's batch number). Counted in state_entries
  // until it is found in the backend by LoadRequested (then it is the same entry).
  void Add(uint32_t entry, uint32_t step);
  // The operator touches an entry at every change of its value (or reports the step of the
  // last change in LastTouched): eviction takes the least recently touched first, and a
  // checkpoint does not write again a copy whose entry was not touched since the last one.
  void Touch(uint32_t entry, uint32_t step) { info_[entry].touched = step; }
  // Fetches the store's line of an entry ahead of a Remove() (a loop over many entries).
  void Prefetch(uint32_t entry) const {
    if (entry < info_.size()) __builtin_prefetch(&info_[entry]);
  }
  // The operator drops a hot entry for good (a window past its lateness): its copy in the
  // backend, if any, is deleted too. The operator frees the entry itself.
  void Remove(uint32_t entry);
  bool hot(uint32_t entry) const { return entry < info_.size() && info_[entry].hot; }
  // The entry was read back and the backend still holds a (stale) copy.
  bool has_backend_copy(uint32_t entry) const { return info_[entry].in_backend; }

  // ---- read-back ----------------------------------------------------------------------------
  // Whether a key may be in the backend (false: certainly not; the common case for new keys).
  bool MayBeCold(std::string_view state_key) const;
  // Queues the key of the hot entry `entry` (just added) to be looked for by LoadRequested.
  void RequestLoad(uint32_t entry, std::string state_key);
  bool load_requested() const { return !loads_.empty(); }
  // Reads every queued key in one MultiGet, sorted by key, and calls found(entry, value) for
  // those in the backend (value valid during the call): the operator then fills the entry.
  void LoadRequested(const std::function<void(uint32_t, std::string_view)>& found);

  // ---- write-back ---------------------------------------------------------------------------
  // Hot bytes: the operator's (codec) plus the store's own bookkeeping.
  int64_t HotBytes() const;
  // After each input batch or watermark: evicts the least recently touched entries when the
  // hot bytes exceed the budget, then commits the step's writes.
  void FinishStep();

  // ---- the time index (UseTimeIndex) ---------------------------------------------------------
  // The times of the index, each with how many entries of the backend have it (cold ones and
  // the stale copies of hot ones), in time order.
  const std::map<int64_t, int64_t>& index_times() const { return index_times_; }
  // Calls f(key_group, key bytes, time, value) for the index entries with time in
  // [from_ms, to_ms], key group by key group, each in (time, key) order; `value` is the entry's
  // value when the index copies it, else empty. A hot entry's stale copy is among them: the
  // operator prefers its hot entry. Nothing is read back or made hot.
  void ScanIndex(int64_t from_ms, int64_t to_ms,
                 const std::function<void(uint16_t, std::string_view, int64_t, std::string_view)>& f);
  // Deletes every cold entry with an index time at or before `to_ms` (windows past their
  // lateness); the operator Remove()s its hot entries of those times first. Returns how many.
  int64_t DropIndexedThrough(int64_t to_ms);

  // ---- counts -------------------------------------------------------------------------------
  int64_t hot_entries() const { return hot_entries_; }
  int64_t cold_entries() const { return cold_entries_; }  // in the backend and not hot
  int64_t entries() const { return hot_entries_ + cold_entries_; }

  // ---- checkpoint hooks ---------------------------------------------------------------------
  // Calls out(key, value) for every entry of the key groups [first_key_group, end_key_group),
  // hot ones (serialised now) and cold ones, each once, in key order.
  void Snapshot(int first_key_group, int end_key_group,
                const std::function<void(std::string_view, std::string_view)>& out);
  // Puts one snapshot entry back, cold (into a store of a new run: its key must not be hot).
  // It comes back hot on its key's next row, as any cold entry does. Commit with FinishStep().
  void Restore(std::string_view key, std::string_view value);

  // ---- checkpoints (issue 17) -----------------------------------------------------------------
  // At a checkpoint barrier, before the backend's checkpoint: every hot entry is written to the
  // backend as well and stays hot, so the run goes on at full speed after the barrier. With
  // RocksDB the copy stays, as a read-back entry's does: an entry not touched since the last
  // checkpoint is not written again (its copy is current), and its eviction overwrites it. Where
  // a copy must not stay (the memory backend, where it would double the state; a store whose
  // entries leave the backend when read back, TimeIndexOptions::take_on_load) it is deleted
  // again by CheckpointTaken. `step` is the operator's step now (as given to Add and Touch).
  // Commits.
  void WriteHotForCheckpoint(uint32_t step);
  // What the store knows of the backend at the checkpoint (its entries, the filter of their
  // keys, the time index's times), for a restore at the same key groups [first_key_group,
  // end_key_group) without reading the state: after WriteHotForCheckpoint, before
  // CheckpointTaken.
  void WriteBookkeeping(const std::string& path, int first_key_group, int end_key_group) const;
  // After the backend's checkpoint: the temporary copies go again. Commits.
  void CheckpointTaken();
  // A new store over a backend restored from checkpoints (StateEnvironment::RestoreBackend):
  // the backend holds every entry of key groups [first_key_group, end_key_group), all cold. With
  // one bookkeeping file of the same key groups, the store reads that (restoring does not grow
  // with the state); otherwise (rescaled), or when `scan_always` (the operator needs every
  // entry), it scans the backend's entries of the range once, passing each to `each` if given
  // (the value as the codec serialised it). Returns whether it scanned. Throws UserError for a
  // damaged file.
  bool Restored(const std::vector<std::string>& bookkeeping_paths, int first_key_group,
                int end_key_group,
                const std::function<void(std::string_view, std::string_view)>& each = nullptr,
                bool scan_always = false);
  const std::string& column_family() const { return column_family_; }

 private:
  struct EntryInfo {
    uint32_t touched = 0;   // step of the last touch
    uint8_t hot = 0;
    uint8_t in_backend = 0;  // read back: the backend holds a copy (stale while hot)
  };
  struct Load {
    std::string key;
    uint32_t entry;
  };
  void Evict(uint32_t entry);
  // Writes the entry's serialised value to the backend (key_ and value_ hold them after) and
  // replaces the index entry of its copy, if any; returns its index time.
  int64_t PutEntry(uint32_t entry);
  uint32_t LastTouched(uint32_t entry) const {
    return codec_->TracksTouches() ? codec_->LastTouched(entry) : info_[entry].touched;
  }
  void NoteWritten(std::string_view state_key);
  void AddEntries(int64_t delta);
  // The time index: an entry's index key, and the bookkeeping of its entries.
  void AppendIndexKey(std::string_view state_key, int64_t time_ms, std::string* index_key) const;
  void PutIndex(std::string_view state_key, int64_t time_ms, std::string_view value);
  void DeleteIndex(std::string_view state_key, int64_t time_ms);
  bool indexed() const { return index_cf_ >= 0; }

  StateBackend& backend_;
  const std::string column_family_;
  const int cf_;
  const int64_t hot_budget_bytes_;
  OperatorMetrics* metrics_;
  KeyedEntryCodec* codec_;

  std::vector<EntryInfo> info_;       // by entry id
  GrowingBloomFilter written_;        // keys ever written to the backend
  int64_t hot_entries_ = 0;
  int64_t cold_entries_ = 0;          // entries whose only copy is in the backend
  int64_t hot_with_copy_ = 0;         // hot entries with a copy in the backend
  bool dirty_ = false;                // writes since the last commit
  std::vector<Load> loads_;
  std::vector<std::string> load_keys_;  // LoadRequested's scratch
  std::string key_, value_;             // Evict's scratch
  bool count_entries_ = true;
  // state_entries changes not yet added to the metric: published at FinishStep (one atomic
  // add a step, not one per entry: a sliding window adds and removes millions of groups).
  int64_t unpublished_entries_ = 0;
  void PublishEntries();

  // The time index.
  int index_cf_ = -1;
  TimeIndexOptions index_;
  std::vector<int64_t> copy_time_;               // by entry: index time of its backend copy
  std::map<int64_t, int64_t> index_times_;       // entries in the backend by index time
  std::map<uint16_t, int64_t> index_key_groups_; // and by key group
  std::string index_key_;                        // scratch
  std::vector<std::pair<std::string, int64_t>> taken_;  // LoadRequested's entries to delete

  // Checkpoints.
  uint32_t checkpoint_step_ = 0;  // the step of the last checkpoint: copies touched before it are current
  std::vector<std::pair<std::string, int64_t>> temporary_copies_;  // (state key, index time)
};

}  // namespace millstream
