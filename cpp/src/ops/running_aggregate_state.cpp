// Running aggregates (`key_by(..).agg(..)`) of one subtask: one accumulator group per key over
// all time. After each input batch, one result row per key that batch changed, with its new
// values, in the order the keys first appear in the batch: a changelog, where a key's last row
// is its current value. Beyond the hot-state budget the least recently changed keys go to the
// backend ("running_acc" [key_group][key]) and come back on their next row: the keyed state
// store (state/keyed_state_store.h) does that; this file says what a key's entry is (its
// accumulator group, by group id) and how it is laid out.
#include <algorithm>

#include "core/error.h"
#include "ops/aggregation_plan.h"
#include "ops/key_table.h"
#include "ops/keyed_snapshot.h"
#include "ops/probe_table.h"
#include "ops/window_result.h"
#include "state/keyed_state_store.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

constexpr uint32_t kNone = 0xffffffffu;

class RunningAggregateState final : public KeyedOperatorState, private KeyedEntryCodec {
 public:
  RunningAggregateState(const AggregationPlan& plan, SubtaskContext context)
      : plan_(plan),
        layout_(*plan.layout),
        context_(std::move(context)),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        store_(*context_.state, "running_acc", context_.hot_state_bytes, metrics_, this),
        keys_(*plan.input_schema, plan.key_columns),
        groups_(layout_),
        results_(plan.output_schema, keys_, layout_, nullptr, false) {
    // Every key comes back cold; the next sequence number keeps first()/last() in arrival order.
    if (!context_.restore_from.empty()) {
      next_seq_ = RestoreKeyedState(context_, store_).counters["next_seq"];
    }
  }

  void OnBatch(const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
               Emitter& out) override {
    const int64_t n = rows->num_rows();
    if (n == 0) return;
    ++batch_number_;
    keys_.Lookup(*rows, key_groups, &slots_);
    if (slot_group_.size() < keys_.slot_capacity()) slot_group_.resize(keys_.slot_capacity(), kNone);
    group_of_row_.resize(n);
    changed_.clear();
    changed_first_row_.clear();
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t slot = slots_[i];
      uint32_t group = slot_group_[slot];
      if (group == kNone) group = NewGroup(slot, next_seq_ + i);
      if (group_touched_[group] != batch_number_) {
        group_touched_[group] = batch_number_;
        store_.Touch(group, batch_number_);
        changed_.push_back(group);
        changed_first_row_.push_back(static_cast<int32_t>(i));
      }
      group_of_row_[i] = group;
    }
    LoadSpilled();
    for (int64_t i = 0; i < n; ++i) ++groups_.header(group_of_row_[i])->rows;
    inputs_ = AggregateInputs(plan_, *rows);
    UpdateRows update{group_of_row_.data(), 0, n, nullptr, next_seq_, &heap_bytes_};
    for (size_t a = 0; a < layout_.size(); ++a) {
      layout_.function(a).Update(inputs_[a], update, groups_.states(a));
    }
    changed_rows_.clear();
    for (uint32_t group : changed_) changed_rows_.push_back(groups_.row(group));
    results_.AppendWithInputKeys(*rows, plan_.key_columns, changed_first_row_, changed_rows_);
    next_seq_ += n;
    results_.Flush(out);
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, store_.HotBytes()));
    store_.FinishStep();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, store_.HotBytes()));
  }

  void Snapshot(const SnapshotTarget& target) override {
    SnapshotKeyedState(target, context_, store_, batch_number_, {{"next_seq", next_seq_}});
  }

  // Running totals do not depend on time and have nothing left to say at the end.
  void OnWatermark(int64_t watermark_ms, Emitter& out) override {}
  void OnEnd(Emitter& out) override {}

 private:
  uint32_t NewGroup(uint32_t slot, int64_t first_seq) {
    uint32_t group = groups_.Allocate();
    if (group_slot_.size() < groups_.capacity()) {
      group_slot_.resize(groups_.capacity());
      group_touched_.resize(groups_.capacity(), 0);
    }
    group_slot_[group] = slot;
    group_touched_[group] = 0;
    slot_group_[slot] = group;
    keys_.Retain(slot);
    groups_.header(group)->first_seq = first_seq;
    store_.Add(group, batch_number_);
    key_.clear();
    AppendStateKey(group, &key_);
    if (store_.MayBeCold(key_)) store_.RequestLoad(group, key_);
    return group;
  }

  // Reads the new groups of the batch that may be in the backend back, at once.
  void LoadSpilled() {
    store_.LoadRequested([&](uint32_t group, std::string_view value) {
      layout_.Deserialize(value, groups_.row(group), &heap_bytes_);
    });
  }

  // ---- KeyedEntryCodec: an entry is a key's accumulator group ------------------------------

  void AppendStateKey(uint32_t group, std::string* key) const override {
    const uint32_t slot = group_slot_[group];
    AppendKeyGroup(keys_.key_group(slot), key);
    keys_.AppendEncoded(slot, key);
  }

  void Serialize(uint32_t group, std::string* value) override {
    layout_.Serialize(groups_.row(group), value);
  }

  void Evicted(uint32_t group) override {
    const uint32_t slot = group_slot_[group];
    slot_group_[slot] = kNone;
    keys_.Release(slot);
    groups_.Free(group, &heap_bytes_);
  }

  int64_t HotBytes() const override {
    const int64_t per_group = static_cast<int64_t>(layout_.row_bytes() + 2 * sizeof(uint32_t));
    return static_cast<int64_t>(groups_.live()) * per_group +
           static_cast<int64_t>(keys_.memory_bytes()) + heap_bytes_;
  }

  const AggregationPlan& plan_;
  const AccumulatorLayout& layout_;
  SubtaskContext context_;
  OperatorMetrics own_metrics_{"running aggregation"};
  OperatorMetrics* metrics_;
  KeyedStateStore store_;
  KeyTable keys_;
  GroupRows groups_;
  ResultBuilder results_;

  std::vector<uint32_t> slot_group_;     // per key slot
  std::vector<uint32_t> group_slot_;     // per group
  std::vector<uint32_t> group_touched_;  // per group: batch number of the last row
  int64_t next_seq_ = 0;
  int64_t heap_bytes_ = 0;
  uint32_t batch_number_ = 0;

  std::vector<uint32_t> slots_, group_of_row_, changed_;
  std::vector<int32_t> changed_first_row_;       // per changed group: its first row in the batch
  std::vector<const uint8_t*> changed_rows_;     // per changed group: its accumulators
  std::vector<const arrow::Array*> inputs_;
  std::string key_;
};

}  // namespace

std::unique_ptr<KeyedOperatorState> MakeRunningAggregateState(const AggregationPlan& plan,
                                                              SubtaskContext context) {
  return std::make_unique<RunningAggregateState>(plan, std::move(context));
}

}  // namespace millstream
