// Session windows of one subtask. Each key slot holds its sessions (ops/session_merge.h), each
// with an accumulator group. A batch is aggregated in one vectorised pass per aggregate; when a
// row bridges sessions, the absorbed sessions' groups are forwarded to the survivor and merged
// after the pass. A row that lands in an already fired session (allowed lateness) is applied
// on its own and the session emitted again at once.
//
// Timers: (deadline, key slot) in time buckets, with one live entry per key (its earliest
// session end, or end + lateness once fired); entries made stale by later changes are skipped.
// Beyond the hot-state budget the keyed state store (state/keyed_state_store.h) writes whole
// keys, the least recently touched first, to the backend ("session_acc" [key_group][key], with
// a time index "session_timer" [key_group][deadline][key]); they come back on their next row or
// deadline: the keys of a batch (or of a deadline) that are not hot are read in one MultiGet,
// skipping those the store's Bloom filter rules out (new keys). A key read back leaves the
// backend: its deadline moves while it is hot.
#include <algorithm>
#include <map>
#include <queue>

#include "core/error.h"
#include "ops/aggregation_plan.h"
#include "ops/key_table.h"
#include "ops/keyed_snapshot.h"
#include "ops/probe_table.h"
#include "ops/session_merge.h"
#include "ops/timer_buckets.h"
#include "ops/window_result.h"
#include "state/keyed_state_store.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

constexpr uint32_t kNone = 0xffffffffu;
constexpr int64_t kNoTimer = INT64_MAX;

// A key's sessions and timer: a KeyTable payload (all zero bytes for a new key), so a row's key
// and its sessions are one cache line.
struct KeySessions {
  SessionList sessions;
  uint64_t timer_code;  // kNoTimer - deadline of this key's live heap entry: 0 is "none"

  int64_t timer_ms() const { return static_cast<int64_t>(static_cast<uint64_t>(kNoTimer) - timer_code); }
  void set_timer_ms(int64_t deadline_ms) {
    timer_code = static_cast<uint64_t>(kNoTimer) - static_cast<uint64_t>(deadline_ms);
  }
};
static_assert(sizeof(KeySessions) <= 48, "a key slot and its sessions fill one cache line");

class SessionWindowState final : public WindowState, private KeyedEntryCodec {
 public:
  SessionWindowState(const AggregationPlan& plan, SubtaskContext context)
      : WindowState(plan),
        layout_(*plan.layout),
        context_(std::move(context)),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        store_(*context_.state, "session_acc", context_.hot_state_bytes, metrics_, this),
        keys_(*plan.input_schema, plan.key_columns, sizeof(KeySessions)),
        groups_(layout_),
        results_(plan.output_schema, keys_, layout_, plan.event_time.get(),
                 plan.allowed_lateness_ms > 0),
        gap_ms_(plan.window.gap_ms),
        lateness_ms_(plan.allowed_lateness_ms),
        timers_(std::max<int64_t>(1, plan.window.gap_ms / 4)) {
    TimeIndexOptions index;
    index.column_family = "session_timer";
    index.take_on_load = true;
    store_.UseTimeIndex(index);
    store_.LeaveEntryCountToOperator();  // state_entries counts sessions; an entry is a key
    // Every key comes back cold: its deadline is in the store's time index, so the watermark
    // brings it back when due (hot keys' timers are not needed).
    if (!context_.restore_from.empty()) {
      int64_t sessions = 0;
      RestoredKeyedState restored = RestoreKeyedState(
          context_, store_, [&](std::string_view, std::string_view value) {
            uint32_t count;
            aggregate_detail::ReadBytes(&value, &count, sizeof(count));
            sessions += count;
          });
      spilled_sessions_ = restored.scanned ? sessions : restored.counters["sessions"];
      metrics_->state_entries += spilled_sessions_;
      next_seq_ = restored.counters["next_seq"];
      watermark_ms_ = context_.restored_watermark_ms;
    }
  }

  void Snapshot(const SnapshotTarget& target) override {
    MS_CHECK(pending_merges_.empty(), "a session checkpoint in the middle of a batch");
    SnapshotKeyedState(target, context_, store_, batch_number_,
                       {{"next_seq", next_seq_}, {"sessions", live_sessions_ + spilled_sessions_}});
  }

  ~SessionWindowState() override {
    metrics_->state_entries -= live_sessions_ + spilled_sessions_;
    for (uint32_t slot = 0; slot < keys_.slot_capacity(); ++slot) {
      keys_.payload<KeySessions>(slot).sessions.Clear();  // the heap part of long lists
    }
  }

 private:
  void StartBatch(const arrow::RecordBatch& rows, const std::vector<uint16_t>& key_groups) override {
    ++batch_number_;
    RowTimes(rows, &times_);
    keys_.Lookup(rows, key_groups, &slots_);
    LoadSpilledKeys();
    inputs_ = AggregateInputs(plan_, rows);
    group_of_row_.assign(rows.num_rows(), kNoGroup);
  }
  void EndBatch(int64_t rows) override { next_seq_ += rows; }
  OperatorMetrics* late_metrics() override { return metrics_; }

  // Adds rows [begin, end) of the current batch by the watermark in force now.
  void AddRows(int64_t begin, int64_t end) override {
    const int64_t watermark_ms = watermark_ms_;
    int64_t pending_from = begin;
    constexpr int64_t kAhead = 8;
    for (int64_t i = begin; i < end; ++i) {
      if (i + kAhead < end) keys_.PrefetchSlot(slots_[i + kAhead]);
      const uint32_t slot = slots_[i];
      KeySessions& key = keys_.payload<KeySessions>(slot);
      absorbed_.clear();
      size_t index = AddToSessions(&key.sessions, times_[i], gap_ms_, kNone, &absorbed_);
      Session& session = key.sessions[index];
      if (session.group == kNone) {
        if (SaturatingAdd(session.end_ms, lateness_ms_) <= watermark_ms) {
          key.sessions.Erase(index, index + 1);
          late_rows_.push_back(i);
          continue;
        }
        session.group = NewGroup(slot, next_seq_ + i);
      }
      for (const Session& gone : absorbed_) {
        forward_[gone.group] = session.group;
        pending_merges_.push_back(gone.group);
        keys_.Release(slot);
        --live_sessions_;
        --metrics_->state_entries;
      }
      const uint32_t group = session.group;
      if (session.end_ms > watermark_ms) {
        group_of_row_[i] = group;
        Reschedule(slot);
        continue;
      }
      // The session has fired already (allowed lateness): apply what came before, then this
      // row alone, and emit the session again.
      const Session fired = session;
      FlushPending(pending_from, i);
      group_of_row_[i] = group;
      FlushPending(i, i + 1);
      group_of_row_[i] = kNoGroup;
      GroupHeader* header = groups_.header(group);
      bool is_update = header->emitted != 0;
      header->emitted = 1;
      results_.AppendSlot(slot, fired.start_ms, fired.end_ms, groups_.row(group), is_update);
      Reschedule(slot);
      pending_from = i + 1;
    }
    FlushPending(pending_from, end);
  }

  void Flush(Emitter& out) override { results_.Flush(out); }

  // Brings back the keys of the batch (slots_) that are not hot and may be in the backend.
  void LoadSpilledKeys() {
    if (store_.cold_entries() == 0) return;
    if (slot_checked_.size() < keys_.slot_capacity()) slot_checked_.resize(keys_.slot_capacity(), 0);
    load_slots_.clear();
    for (uint32_t slot : slots_) {
      if (slot_checked_[slot] == batch_number_) continue;
      slot_checked_[slot] = batch_number_;
      if (!keys_.payload<KeySessions>(slot).sessions.empty()) continue;
      std::string key = AccKey(slot);
      if (!store_.MayBeCold(key)) continue;
      store_.Add(slot, batch_number_);
      store_.RequestLoad(slot, std::move(key));
      load_slots_.push_back(slot);
    }
    store_.LoadRequested([&](uint32_t slot, std::string_view value) { LoadKey(slot, value); });
    // A key the filter let through that was not there is no entry (yet: NewGroup adds it).
    for (uint32_t slot : load_slots_) {
      if (keys_.payload<KeySessions>(slot).sessions.empty()) store_.Remove(slot);
    }
  }

  uint32_t NewGroup(uint32_t slot, int64_t first_seq) {
    if (!store_.hot(slot)) store_.Add(slot, batch_number_);  // the key's first session
    uint32_t group = groups_.Allocate();
    if (forward_.size() < groups_.capacity()) forward_.resize(groups_.capacity(), kNone);
    forward_[group] = kNone;
    groups_.header(group)->first_seq = first_seq;
    keys_.Retain(slot);
    ++live_sessions_;
    ++metrics_->state_entries;
    return group;
  }

  uint32_t Resolve(uint32_t group) const {
    while (forward_[group] != kNone) group = forward_[group];
    return group;
  }

  void UpdateRange(int64_t begin, int64_t end) {
    if (begin >= end) return;
    UpdateRows update{group_of_row_.data(), begin, end, times_.data(), next_seq_, &heap_bytes_};
    for (size_t a = 0; a < layout_.size(); ++a) {
      layout_.function(a).Update(inputs_[a], update, groups_.states(a));
    }
  }

  // Aggregates rows [begin, end) into their (surviving) sessions, then folds absorbed sessions
  // into their survivors.
  void FlushPending(int64_t begin, int64_t end) {
    if (!pending_merges_.empty()) {
      for (int64_t i = begin; i < end; ++i) {
        if (group_of_row_[i] != kNoGroup) group_of_row_[i] = Resolve(group_of_row_[i]);
      }
    }
    // The rows of the groups, fetched ahead: the aggregates then find them in cache.
    constexpr int64_t kAhead = 8;
    for (int64_t i = begin; i < end; ++i) {
      if (i + kAhead < end && group_of_row_[i + kAhead] != kNoGroup) {
        __builtin_prefetch(groups_.row(group_of_row_[i + kAhead]));
      }
      if (group_of_row_[i] == kNoGroup) continue;
      GroupHeader* header = groups_.header(group_of_row_[i]);
      ++header->rows;
      header->touched = batch_number_;
    }
    UpdateRange(begin, end);
    for (uint32_t gone : pending_merges_) {
      layout_.Merge(groups_.row(Resolve(gone)), groups_.row(gone), &heap_bytes_);
    }
    for (uint32_t gone : pending_merges_) {
      forward_[gone] = kNone;
      groups_.Free(gone, &heap_bytes_);
    }
    pending_merges_.clear();
  }

  int64_t Deadline(const Session& session) const {
    return session.end_ms <= watermark_ms_ ? SaturatingAdd(session.end_ms, lateness_ms_)
                                           : session.end_ms;
  }

  int64_t KeyDeadline(const KeySessions& key) const {
    int64_t deadline = kNoTimer;
    for (const Session& session : key.sessions) deadline = std::min(deadline, Deadline(session));
    return deadline;
  }

  void Reschedule(uint32_t slot) {
    KeySessions& key = keys_.payload<KeySessions>(slot);
    if (key.sessions.empty()) {
      key.set_timer_ms(kNoTimer);
      return;
    }
    int64_t deadline = KeyDeadline(key);
    if (deadline < key.timer_ms()) {
      key.set_timer_ms(deadline);
      timers_.Push(deadline, slot);
    }
  }

  void Advance(int64_t watermark_ms) override {
    const int64_t previous_ms = watermark_ms_;
    if (watermark_ms <= previous_ms) return;
    watermark_ms_ = watermark_ms;
    due_.clear();
    LoadDueKeys();  // into due_
    popped_.clear();
    timers_.PopDue(watermark_ms, &popped_);
    constexpr size_t kAhead = 8;
    for (size_t i = 0; i < popped_.size(); ++i) {
      if (i + kAhead < popped_.size()) keys_.PrefetchSlot(popped_[i + kAhead].second);
      auto [deadline, slot] = popped_[i];
      KeySessions& key = keys_.payload<KeySessions>(slot);
      if (key.timer_ms() != deadline) continue;  // stale
      key.set_timer_ms(kNoTimer);
      due_.push_back(slot);
    }
    // Fire the sessions that ended since the last watermark, by end then first row.
    firings_.clear();
    for (uint32_t slot : due_) {
      for (const Session& s : keys_.payload<KeySessions>(slot).sessions) {
        if (s.end_ms > previous_ms && s.end_ms <= watermark_ms) {
          firings_.push_back({s.end_ms, 0, s.start_ms, slot, s.group});
        }
      }
    }
    for (size_t i = 0; i < firings_.size(); ++i) {
      if (i + kAhead < firings_.size()) __builtin_prefetch(groups_.row(firings_[i + kAhead].group));
      firings_[i].first_seq = groups_.header(firings_[i].group)->first_seq;
    }
    std::sort(firings_.begin(), firings_.end(), [](const Firing& a, const Firing& b) {
      return a.end_ms != b.end_ms ? a.end_ms < b.end_ms : a.first_seq < b.first_seq;
    });
    for (size_t i = 0; i < firings_.size(); ++i) {
      if (i + kAhead < firings_.size()) {
        __builtin_prefetch(groups_.row(firings_[i + kAhead].group));
        keys_.PrefetchSlot(firings_[i + kAhead].slot);
      }
      const Firing& f = firings_[i];
      GroupHeader* header = groups_.header(f.group);
      results_.AppendSlot(f.slot, f.start_ms, f.end_ms, groups_.row(f.group), header->emitted != 0);
      header->emitted = 1;
    }
    // Drop the sessions past their lateness.
    for (size_t i = 0; i < due_.size(); ++i) {
      if (i + kAhead < due_.size()) keys_.PrefetchSlot(due_[i + kAhead]);
      const uint32_t slot = due_[i];
      SessionList& sessions = keys_.payload<KeySessions>(slot).sessions;
      size_t kept = 0;
      for (size_t j = 0; j < sessions.size(); ++j) {
        Session s = sessions[j];
        if (SaturatingAdd(s.end_ms, lateness_ms_) <= watermark_ms) {
          groups_.Free(s.group, &heap_bytes_);
          keys_.Release(slot);
          --live_sessions_;
          --metrics_->state_entries;
        } else {
          sessions[kept++] = s;
        }
      }
      sessions.Erase(kept, sessions.size());
      if (sessions.empty()) store_.Remove(slot);
      Reschedule(slot);
    }
  }

  // ---- the keyed state store: an entry is a key with all its sessions ------------------------

  std::string AccKey(uint32_t slot) const {
    std::string bytes;
    AppendStateKey(slot, &bytes);
    return bytes;
  }

  // Brings a key's sessions back from the backend (`value`, as Serialize wrote it).
  void LoadKey(uint32_t slot, std::string_view value) {
    std::string_view bytes = value;
    uint32_t count;
    aggregate_detail::ReadBytes(&bytes, &count, sizeof(count));
    KeySessions& key = keys_.payload<KeySessions>(slot);
    for (uint32_t i = 0; i < count; ++i) {
      Session session;
      aggregate_detail::ReadBytes(&bytes, &session.start_ms, sizeof(int64_t));
      aggregate_detail::ReadBytes(&bytes, &session.end_ms, sizeof(int64_t));
      std::string_view acc = aggregate_detail::ReadString(&bytes);
      session.group = groups_.Allocate();
      if (forward_.size() < groups_.capacity()) forward_.resize(groups_.capacity(), kNone);
      layout_.Deserialize(acc, groups_.row(session.group), &heap_bytes_);
      keys_.Retain(slot);
      ++live_sessions_;
      --spilled_sessions_;
      key.sessions.Insert(key.sessions.size(), session);
    }
    key.set_timer_ms(kNoTimer);
    Reschedule(slot);
  }

  // Keys in the backend with a deadline at or before the watermark come back, due: one scan
  // of the time index per key group that has keys in the backend.
  void LoadDueKeys() {
    const std::map<int64_t, int64_t>& deadlines = store_.index_times();
    if (deadlines.empty() || deadlines.begin()->first > watermark_ms_) return;
    std::vector<std::pair<uint16_t, std::string>> due_keys;
    store_.ScanIndex(deadlines.begin()->first, watermark_ms_,
                     [&](uint16_t key_group, std::string_view key, int64_t, std::string_view) {
                       due_keys.emplace_back(key_group, std::string(key));
                     });
    for (const auto& [key_group, key] : due_keys) {
      const uint32_t slot = keys_.LookupEncoded(key, key_group);
      MS_CHECK(keys_.payload<KeySessions>(slot).sessions.empty(), "a cold key with hot sessions");
      store_.Add(slot, batch_number_);
      store_.RequestLoad(slot, AccKey(slot));
    }
    size_t loaded = 0;
    store_.LoadRequested([&](uint32_t slot, std::string_view value) {
      LoadKey(slot, value);
      // Due now: its timer (made against the new watermark) must not stand in for that.
      keys_.payload<KeySessions>(slot).set_timer_ms(kNoTimer);
      due_.push_back(slot);
      ++loaded;
    });
    MS_CHECK(loaded == due_keys.size(), "session timer without its sessions");
  }

  void AppendStateKey(uint32_t slot, std::string* key) const override {
    AppendKeyGroup(keys_.key_group(slot), key);
    keys_.AppendEncoded(slot, key);
  }

  // [count u32], then per session [start i64][end i64][its accumulators, length first].
  void Serialize(uint32_t slot, std::string* value) override {
    const SessionList& sessions = keys_.payload<KeySessions>(slot).sessions;
    const uint32_t count = static_cast<uint32_t>(sessions.size());
    aggregate_detail::AppendBytes(value, &count, sizeof(count));
    for (const Session& session : sessions) {
      aggregate_detail::AppendBytes(value, &session.start_ms, sizeof(int64_t));
      aggregate_detail::AppendBytes(value, &session.end_ms, sizeof(int64_t));
      acc_.clear();
      layout_.Serialize(groups_.row(session.group), &acc_);
      aggregate_detail::AppendString(value, acc_);
    }
  }

  void Evicted(uint32_t slot) override {
    KeySessions& key = keys_.payload<KeySessions>(slot);
    for (const Session& session : key.sessions) {
      groups_.Free(session.group, &heap_bytes_);
      keys_.Release(slot);
      --live_sessions_;
      ++spilled_sessions_;
    }
    key.sessions.Clear();
    key.set_timer_ms(kNoTimer);
  }

  // The key's next deadline: when the watermark must bring it back.
  int64_t IndexTime(uint32_t slot) const override { return KeyDeadline(SessionsOf(slot)); }
  bool TracksTouches() const override { return true; }
  uint32_t LastTouched(uint32_t slot) const override {
    uint32_t touched = 0;
    for (const Session& s : SessionsOf(slot).sessions) {
      touched = std::max(touched, groups_.header(s.group)->touched);
    }
    return touched;
  }
  const KeySessions& SessionsOf(uint32_t slot) const {
    return const_cast<KeyTable&>(keys_).payload<KeySessions>(slot);  // (payload has no const form)
  }

  int64_t HotBytes() const override {
    const int64_t per_session = static_cast<int64_t>(layout_.row_bytes()) + sizeof(Session) + 8;
    return live_sessions_ * per_session + static_cast<int64_t>(keys_.memory_bytes()) + heap_bytes_;
  }

  void FinishStep() override {
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, store_.HotBytes()));
    store_.FinishStep();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, store_.HotBytes()));
  }

  const AccumulatorLayout& layout_;
  SubtaskContext context_;
  OperatorMetrics own_metrics_{"session window"};
  OperatorMetrics* metrics_;
  KeyedStateStore store_;
  KeyTable keys_;
  GroupRows groups_;
  ResultBuilder results_;
  const int64_t gap_ms_;
  const int64_t lateness_ms_;

  TimerBuckets timers_;
  std::vector<uint32_t> forward_;  // per group: the session it was merged into (this batch)
  std::vector<uint32_t> pending_merges_;
  int64_t live_sessions_ = 0;     // hot sessions
  int64_t spilled_sessions_ = 0;  // sessions in the backend

  int64_t watermark_ms_ = kMinWatermarkMs;
  int64_t next_seq_ = 0;
  int64_t heap_bytes_ = 0;
  uint32_t batch_number_ = 0;

  std::vector<int64_t> times_;
  std::vector<uint32_t> slots_, group_of_row_, due_;
  std::vector<std::pair<int64_t, uint32_t>> popped_;
  struct Firing {
    int64_t end_ms, first_seq, start_ms;
    uint32_t slot, group;
  };
  std::vector<Firing> firings_;
  std::vector<uint32_t> slot_checked_;     // per key slot: the batch that looked for it last
  std::vector<uint32_t> load_slots_;       // keys asked of the backend
  std::vector<Session> absorbed_;
  std::vector<const arrow::Array*> inputs_;
  std::string acc_;
};

}  // namespace

std::unique_ptr<KeyedOperatorState> MakeSessionWindowState(const AggregationPlan& plan,
                                                           SubtaskContext context) {
  return std::make_unique<SessionWindowState>(plan, std::move(context));
}

}  // namespace millstream
