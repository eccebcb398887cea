// Session windows of one subtask. Each key slot holds its sessions (ops/session_merge.h), each
// with an accumulator group. A batch is aggregated in one vectorised pass per aggregate; when a
// row bridges sessions, the absorbed sessions' groups are forwarded to the survivor and merged
// after the pass. A row that lands in an already fired session (allowed lateness) is applied
// on its own and the session emitted again at once.
//
// Timers: a min-heap of (deadline, key slot) with one live entry per key (its earliest session
// end, or end + lateness once fired); entries made stale by later changes are skipped.
// Beyond the hot-state budget whole keys go to the backend ("session_acc" [key_group][key],
// "session_timer" [key_group][deadline][key]) and come back on their next row or deadline.
#include <algorithm>
#include <map>
#include <queue>

#include "core/error.h"
#include "ops/aggregation_plan.h"
#include "ops/key_table.h"
#include "ops/session_merge.h"
#include "ops/window_result.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

constexpr uint32_t kNone = 0xffffffffu;
constexpr int64_t kNoTimer = INT64_MAX;

struct KeySessions {
  std::vector<Session> sessions;
  int64_t timer_ms = kNoTimer;  // deadline of this key's live heap entry
  uint32_t touched = 0;         // batch number of the last row
  uint32_t checked = 0;         // batch number in which the backend was last asked for it
};

class SessionWindowState final : public KeyedOperatorState {
 public:
  SessionWindowState(const AggregationPlan& plan, SubtaskContext context)
      : plan_(plan),
        layout_(*plan.layout),
        context_(std::move(context)),
        backend_(*context_.state),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        acc_cf_(backend_.ColumnFamily("session_acc")),
        timer_cf_(backend_.ColumnFamily("session_timer")),
        keys_(*plan.input_schema, plan.key_columns),
        groups_(layout_),
        results_(plan.output_schema, keys_, layout_, plan.event_time.get(),
                 plan.allowed_lateness_ms > 0),
        gap_ms_(plan.window.gap_ms),
        lateness_ms_(plan.allowed_lateness_ms) {}

  ~SessionWindowState() override {
    metrics_->state_entries -= live_sessions_ + spilled_sessions_;
  }

  void OnBatch(const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
               Emitter& out) override {
    const int64_t n = rows->num_rows();
    if (n == 0) return;
    ++batch_number_;
    if (plan_.window.processing_time) {
      int64_t now_ms = plan_.clock_ms();
      Advance(now_ms);
      times_.assign(n, now_ms);
    } else {
      plan_.event_time->ToMs(*rows, &times_);
    }
    keys_.Lookup(*rows, key_groups, &slots_);
    if (keys_of_slot_.size() < keys_.slot_capacity()) keys_of_slot_.resize(keys_.slot_capacity());
    inputs_ = AggregateInputs(plan_, *rows);
    group_of_row_.assign(n, kNoGroup);
    late_rows_.clear();
    dirty_slots_.clear();
    const int64_t watermark_ms = watermark_ms_;
    int64_t pending_from = 0;
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t slot = slots_[i];
      KeySessions& key = SessionsOf(slot);
      absorbed_.clear();
      size_t index = AddToSessions(&key.sessions, times_[i], gap_ms_, kNone, &absorbed_);
      Session& session = key.sessions[index];
      if (session.group == kNone) {
        if (SaturatingAdd(session.end_ms, lateness_ms_) <= watermark_ms) {
          key.sessions.erase(key.sessions.begin() + static_cast<ptrdiff_t>(index));
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
      if (key.touched != batch_number_) dirty_slots_.push_back(slot);
      key.touched = batch_number_;
      const uint32_t group = session.group;
      if (session.end_ms > watermark_ms) {
        ++groups_.header(group)->rows;
        group_of_row_[i] = group;
        continue;
      }
      // The session has fired already (allowed lateness): apply what came before, then this
      // row alone, and emit the session again.
      const Session fired = session;
      FlushPending(pending_from, i);
      group_of_row_[i] = group;
      UpdateRange(i, i + 1);
      group_of_row_[i] = kNoGroup;
      GroupHeader* header = groups_.header(group);
      ++header->rows;
      bool is_update = header->emitted != 0;
      header->emitted = 1;
      results_.AppendSlot(slot, fired.start_ms, fired.end_ms, groups_.row(group), is_update);
      pending_from = i + 1;
    }
    FlushPending(pending_from, n);
    for (uint32_t slot : dirty_slots_) Reschedule(slot);
    next_seq_ += n;
    results_.Flush(out);
    EmitLateRows(rows, late_rows_, out, metrics_);
    FinishStep();
  }

  void OnWatermark(int64_t watermark_ms, Emitter& out) override {
    if (plan_.window.processing_time && watermark_ms != kFinalWatermarkMs) {
      watermark_ms = plan_.clock_ms();
    }
    Advance(watermark_ms);
    results_.Flush(out);
    FinishStep();
  }

  void OnEnd(Emitter& out) override {
    Advance(kFinalWatermarkMs);
    results_.Flush(out);
    FinishStep();
  }

 private:
  KeySessions& SessionsOf(uint32_t slot) {
    KeySessions& key = keys_of_slot_[slot];
    if (key.sessions.empty() && spilled_keys_ > 0 && key.checked != batch_number_) {
      key.checked = batch_number_;
      LoadKey(slot);
    }
    return key;
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
    KeySessions& key = keys_of_slot_[slot];
    if (key.sessions.empty()) {
      key.timer_ms = kNoTimer;
      return;
    }
    int64_t deadline = KeyDeadline(key);
    if (deadline < key.timer_ms) {
      key.timer_ms = deadline;
      timers_.push({deadline, slot});
    }
  }

  void Advance(int64_t watermark_ms) {
    const int64_t previous_ms = watermark_ms_;
    if (watermark_ms <= previous_ms) return;
    watermark_ms_ = watermark_ms;
    due_.clear();
    LoadDueKeys();  // into due_
    while (!timers_.empty() && timers_.top().first <= watermark_ms) {
      auto [deadline, slot] = timers_.top();
      timers_.pop();
      KeySessions& key = keys_of_slot_[slot];
      if (key.timer_ms != deadline) continue;  // stale
      key.timer_ms = kNoTimer;
      due_.push_back(slot);
    }
    // Fire the sessions that ended since the last watermark, by end then first row.
    struct Firing {
      int64_t end_ms, first_seq, start_ms;
      uint32_t slot, group;
    };
    std::vector<Firing> firings;
    for (uint32_t slot : due_) {
      for (const Session& s : keys_of_slot_[slot].sessions) {
        if (s.end_ms > previous_ms && s.end_ms <= watermark_ms) {
          firings.push_back({s.end_ms, groups_.header(s.group)->first_seq, s.start_ms, slot, s.group});
        }
      }
    }
    std::sort(firings.begin(), firings.end(), [](const Firing& a, const Firing& b) {
      return a.end_ms != b.end_ms ? a.end_ms < b.end_ms : a.first_seq < b.first_seq;
    });
    for (const Firing& f : firings) {
      GroupHeader* header = groups_.header(f.group);
      results_.AppendSlot(f.slot, f.start_ms, f.end_ms, groups_.row(f.group), header->emitted != 0);
      header->emitted = 1;
    }
    // Drop the sessions past their lateness.
    for (uint32_t slot : due_) {
      auto& sessions = keys_of_slot_[slot].sessions;
      auto keep = sessions.begin();
      for (auto it = sessions.begin(); it != sessions.end(); ++it) {
        if (SaturatingAdd(it->end_ms, lateness_ms_) <= watermark_ms) {
          groups_.Free(it->group, &heap_bytes_);
          keys_.Release(slot);
          --live_sessions_;
          --metrics_->state_entries;
        } else {
          *keep++ = *it;
        }
      }
      sessions.erase(keep, sessions.end());
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

  // Brings a key's sessions back from the backend, if it is there.
  void LoadKey(uint32_t slot) {
    std::string acc_key = AccKey(slot);
    if (!backend_.Get(acc_cf_, acc_key, &value_)) return;
    std::string_view bytes = value_;
    int64_t deadline_ms;
    uint32_t count;
    aggregate_detail::ReadBytes(&bytes, &deadline_ms, sizeof(deadline_ms));
    aggregate_detail::ReadBytes(&bytes, &count, sizeof(count));
    KeySessions& key = keys_of_slot_[slot];
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
      key.sessions.push_back(session);
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
    key.timer_ms = kNoTimer;
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
    for (const auto& [key_group, key] : due_keys) {
      uint32_t slot = keys_.LookupEncoded(key, key_group);
      if (keys_of_slot_.size() < keys_.slot_capacity()) keys_of_slot_.resize(keys_.slot_capacity());
      LoadKey(slot);
      // Due now: its timer (made against the new watermark) must not stand in for that.
      keys_of_slot_[slot].timer_ms = kNoTimer;
      due_.push_back(slot);
    }
  }

  int64_t HotBytes() const {
    const int64_t per_session = static_cast<int64_t>(layout_.row_bytes()) + sizeof(Session) + 8;
    return live_sessions_ * per_session +
           static_cast<int64_t>(keys_of_slot_.size() * sizeof(KeySessions) + keys_.memory_bytes()) +
           heap_bytes_;
  }

  // Writes the least recently touched keys (all their sessions) to the backend until the hot
  // state is within three quarters of its budget.
  void MaybeSpill() {
    const int64_t budget = context_.hot_state_bytes;
    if (budget < 0 || HotBytes() <= budget) return;
    std::vector<std::pair<uint32_t, uint32_t>> by_age;  // (touched, slot)
    for (uint32_t slot = 0; slot < keys_of_slot_.size(); ++slot) {
      if (!keys_of_slot_[slot].sessions.empty()) by_age.emplace_back(keys_of_slot_[slot].touched, slot);
    }
    std::sort(by_age.begin(), by_age.end());
    for (const auto& [touched, slot] : by_age) {
      if (HotBytes() <= budget / 4 * 3) break;
      KeySessions& key = keys_of_slot_[slot];
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
      key.sessions.clear();
      key.timer_ms = kNoTimer;
      std::string acc_key = AccKey(slot);
      backend_.Put(acc_cf_, acc_key, value);
      backend_.Put(timer_cf_, TimerKey(keys_.key_group(slot), deadline_ms, acc_key.substr(2)), "");
      ++spilled_deadlines_[deadline_ms];
      ++spilled_key_groups_[keys_.key_group(slot)];
      ++spilled_keys_;
      backend_dirty_ = true;
    }
  }

  void FinishStep() {
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes));
    MaybeSpill();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes));
    if (backend_dirty_) {
      backend_.Commit();
      backend_dirty_ = false;
    }
  }

  const AggregationPlan& plan_;
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

  std::vector<KeySessions> keys_of_slot_;
  std::priority_queue<std::pair<int64_t, uint32_t>, std::vector<std::pair<int64_t, uint32_t>>,
                      std::greater<>>
      timers_;
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
  std::vector<uint32_t> slots_, group_of_row_, dirty_slots_, due_;
  std::vector<int64_t> late_rows_;
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
