// Session windows of one subtask. Each key slot holds its sessions (ops/session_merge.h), each
// with an accumulator group. A batch is aggregated in one vectorised pass per aggregate; when a
// row bridges sessions, the absorbed sessions' groups are forwarded to the survivor and merged
// after the pass. A row that lands in an already fired session (allowed lateness) is applied
// on its own and the session emitted again at once.
//
// Timers: (deadline, key slot) in time buckets, with one live entry per key (its earliest
// session end, or end + lateness once fired); entries made stale by later changes are skipped.
// Beyond the hot-state budget whole keys go to the backend ("session_acc" [key_group][key],
// "session_timer" [key_group][deadline][key]) and come back on their next row or deadline: the
// keys of a batch (or of a deadline) that are not hot are read in one MultiGet, skipping those a
// Bloom filter of the written keys rules out (new keys).
#include <algorithm>
#include <map>
#include <queue>

#include "core/error.h"
#include "ops/aggregation_plan.h"
#include "state/evict_oldest.h"
#include "state/growing_bloom_filter.h"
#include "ops/key_table.h"
#include "ops/probe_table.h"
#include "ops/session_merge.h"
#include "ops/timer_buckets.h"
#include "ops/window_result.h"
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

class SessionWindowState final : public WindowState {
 public:
  SessionWindowState(const AggregationPlan& plan, SubtaskContext context)
      : WindowState(plan),
        layout_(*plan.layout),
        context_(std::move(context)),
        backend_(*context_.state),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        acc_cf_(backend_.ColumnFamily("session_acc")),
        timer_cf_(backend_.ColumnFamily("session_timer")),
        keys_(*plan.input_schema, plan.key_columns, sizeof(KeySessions)),
        groups_(layout_),
        results_(plan.output_schema, keys_, layout_, plan.event_time.get(),
                 plan.allowed_lateness_ms > 0),
        gap_ms_(plan.window.gap_ms),
        lateness_ms_(plan.allowed_lateness_ms),
        timers_(std::max<int64_t>(1, plan.window.gap_ms / 4)) {}

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
    if (spilled_keys_ == 0) return;
    if (slot_checked_.size() < keys_.slot_capacity()) slot_checked_.resize(keys_.slot_capacity(), 0);
    load_slots_.clear();
    load_keys_.clear();
    for (uint32_t slot : slots_) {
      if (slot_checked_[slot] == batch_number_) continue;
      slot_checked_[slot] = batch_number_;
      if (!keys_.payload<KeySessions>(slot).sessions.empty()) continue;
      std::string key = AccKey(slot);
      if (!written_.MayContain(HashBytes(key))) continue;
      load_slots_.push_back(slot);
      load_keys_.push_back(std::move(key));
    }
    metrics_->state_reads += static_cast<int64_t>(load_keys_.size());
    backend_.MultiGet(acc_cf_, load_keys_, [&](size_t i, std::string_view value) {
      LoadKey(load_slots_[i], load_keys_[i], value);
    });
  }

  uint32_t NewGroup(uint32_t slot, int64_t first_seq) {
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
      Reschedule(slot);
    }
  }

  // ---- the state backend ------------------------------------------------------------------

  std::string AccKey(uint32_t slot) {
    std::string bytes;
    AppendKeyGroup(keys_.key_group(slot), &bytes);
    keys_.AppendEncoded(slot, &bytes);
    return bytes;
  }

  std::string TimerKey(uint16_t key_group, int64_t deadline_ms, std::string_view key) {
    std::string bytes;
    AppendKeyGroup(key_group, &bytes);
    state_keys::AppendTime(&bytes, deadline_ms);
    bytes.append(key);
    return bytes;
  }

  // Brings a key's sessions back from the backend: `value`, read at `acc_key`.
  void LoadKey(uint32_t slot, const std::string& acc_key, std::string_view value) {
    std::string_view bytes = value;
    int64_t deadline_ms;
    uint32_t count;
    aggregate_detail::ReadBytes(&bytes, &deadline_ms, sizeof(deadline_ms));
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
    backend_.Delete(acc_cf_, acc_key);
    backend_.Delete(timer_cf_, TimerKey(keys_.key_group(slot), deadline_ms, acc_key.substr(2)));
    backend_dirty_ = true;
    --spilled_keys_;
    const uint16_t key_group = keys_.key_group(slot);
    if (--spilled_key_groups_[key_group] == 0) spilled_key_groups_.erase(key_group);
    auto spilled = spilled_deadlines_.find(deadline_ms);
    MS_CHECK(spilled != spilled_deadlines_.end(), "spilled session deadline not tracked");
    if (--spilled->second == 0) spilled_deadlines_.erase(spilled);
    key.set_timer_ms(kNoTimer);
    Reschedule(slot);
  }

  // Keys in the backend with a deadline at or before the watermark come back, due: one scan
  // of the timers per key group that has keys in the backend.
  void LoadDueKeys() {
    if (spilled_deadlines_.empty() || spilled_deadlines_.begin()->first > watermark_ms_) return;
    const int64_t earliest_ms = spilled_deadlines_.begin()->first;
    std::vector<std::pair<uint16_t, std::string>> due_keys;
    for (const auto& [key_group, count] : spilled_key_groups_) {
      std::string begin = TimerKey(key_group, earliest_ms, "");
      std::string prefix = begin.substr(0, 2);
      for (auto it = backend_.Scan(timer_cf_, begin, ""); it->Valid(); it->Next()) {
        std::string_view key = it->key();
        if (key.substr(0, 2) != prefix || state_keys::ReadTime(key.substr(2)) > watermark_ms_) break;
        due_keys.emplace_back(key_group, std::string(key.substr(10)));
      }
    }
    load_slots_.clear();
    load_keys_.clear();
    for (const auto& [key_group, key] : due_keys) {
      load_slots_.push_back(keys_.LookupEncoded(key, key_group));
      load_keys_.push_back(AccKey(load_slots_.back()));
    }
    size_t loaded = 0;
    metrics_->state_reads += static_cast<int64_t>(load_keys_.size());
    backend_.MultiGet(acc_cf_, load_keys_, [&](size_t i, std::string_view value) {
      const uint32_t slot = load_slots_[i];
      LoadKey(slot, load_keys_[i], value);
      // Due now: its timer (made against the new watermark) must not stand in for that.
      keys_.payload<KeySessions>(slot).set_timer_ms(kNoTimer);
      due_.push_back(slot);
      ++loaded;
    });
    MS_CHECK(loaded == due_keys.size(), "session timer without its sessions");
  }

  int64_t HotBytes() const {
    const int64_t per_session = static_cast<int64_t>(layout_.row_bytes()) + sizeof(Session) + 8;
    return live_sessions_ * per_session + static_cast<int64_t>(keys_.memory_bytes()) + heap_bytes_ +
           static_cast<int64_t>(written_.memory_bytes());
  }

  // Writes the least recently touched keys (all their sessions) to the backend until the hot
  // state is within three quarters of its budget.
  void MaybeSpill() {
    const int64_t budget = context_.hot_state_bytes;
    if (budget < 0 || HotBytes() <= budget) return;
    std::vector<AgeEntry> by_age;  // (last batch with a row, slot)
    for (uint32_t slot = 0; slot < keys_.slot_capacity(); ++slot) {
      if (!keys_.in_use(slot)) continue;
      uint32_t touched = 0;
      for (const Session& s : keys_.payload<KeySessions>(slot).sessions) {
        touched = std::max(touched, groups_.header(s.group)->touched);
      }
      if (!keys_.payload<KeySessions>(slot).sessions.empty()) by_age.emplace_back(touched, slot);
    }
    EvictOldest(&by_age, [&] { return HotBytes() > budget / 4 * 3; }, [&](uint32_t slot) {
      KeySessions& key = keys_.payload<KeySessions>(slot);
      const int64_t deadline_ms = KeyDeadline(key);
      std::string value;
      aggregate_detail::AppendBytes(&value, &deadline_ms, sizeof(deadline_ms));
      uint32_t count = static_cast<uint32_t>(key.sessions.size());
      aggregate_detail::AppendBytes(&value, &count, sizeof(count));
      for (const Session& session : key.sessions) {
        aggregate_detail::AppendBytes(&value, &session.start_ms, sizeof(int64_t));
        aggregate_detail::AppendBytes(&value, &session.end_ms, sizeof(int64_t));
        acc_.clear();
        layout_.Serialize(groups_.row(session.group), &acc_);
        aggregate_detail::AppendString(&value, acc_);
        groups_.Free(session.group, &heap_bytes_);
        keys_.Release(slot);
        --live_sessions_;
        ++spilled_sessions_;
      }
      key.sessions.Clear();
      key.set_timer_ms(kNoTimer);
      std::string acc_key = AccKey(slot);
      const uint64_t hash = HashBytes(acc_key);
      if (!written_.MayContain(hash)) written_.Add(hash);
      backend_.Put(acc_cf_, acc_key, value);
      ++metrics_->state_writes;
      backend_.Put(timer_cf_, TimerKey(keys_.key_group(slot), deadline_ms, acc_key.substr(2)), "");
      ++spilled_deadlines_[deadline_ms];
      ++spilled_key_groups_[keys_.key_group(slot)];
      ++spilled_keys_;
      backend_dirty_ = true;
    });
  }

  void FinishStep() override {
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, HotBytes()));
    MaybeSpill();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, HotBytes()));
    if (backend_dirty_) {
      backend_.Commit();
      backend_dirty_ = false;
    }
  }

  const AccumulatorLayout& layout_;
  SubtaskContext context_;
  StateBackend& backend_;
  OperatorMetrics own_metrics_{"session window"};
  OperatorMetrics* metrics_;
  int acc_cf_, timer_cf_;
  KeyTable keys_;
  GroupRows groups_;
  ResultBuilder results_;
  const int64_t gap_ms_;
  const int64_t lateness_ms_;

  TimerBuckets timers_;
  std::vector<uint32_t> forward_;  // per group: the session it was merged into (this batch)
  std::vector<uint32_t> pending_merges_;
  std::map<int64_t, int64_t> spilled_deadlines_;  // keys in the backend by deadline
  std::map<uint16_t, int64_t> spilled_key_groups_;  // and by key group
  int64_t spilled_keys_ = 0;
  int64_t live_sessions_ = 0;     // hot sessions
  int64_t spilled_sessions_ = 0;  // sessions in the backend

  int64_t watermark_ms_ = kMinWatermarkMs;
  int64_t next_seq_ = 0;
  int64_t heap_bytes_ = 0;
  uint32_t batch_number_ = 0;
  bool backend_dirty_ = false;

  std::vector<int64_t> times_;
  std::vector<uint32_t> slots_, group_of_row_, due_;
  std::vector<std::pair<int64_t, uint32_t>> popped_;
  struct Firing {
    int64_t end_ms, first_seq, start_ms;
    uint32_t slot, group;
  };
  std::vector<Firing> firings_;
  GrowingBloomFilter written_;             // keys written to the backend
  std::vector<uint32_t> slot_checked_;     // per key slot: the batch that looked for it last
  std::vector<uint32_t> load_slots_;       // keys to read back from the backend
  std::vector<std::string> load_keys_;     // and their keys there
  std::vector<Session> absorbed_;
  std::vector<const arrow::Array*> inputs_;
  std::string value_, acc_;
};

}  // namespace

std::unique_ptr<KeyedOperatorState> MakeSessionWindowState(const AggregationPlan& plan,
                                                           SubtaskContext context) {
  return std::make_unique<SessionWindowState>(plan, std::move(context));
}

}  // namespace millstream
