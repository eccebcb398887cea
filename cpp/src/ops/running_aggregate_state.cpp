// Running aggregates (`key_by(..).agg(..)`) of one subtask: one accumulator group per key over
// all time. After each input batch, one result row per key that batch changed, with its new
// values, in the order the keys first appear in the batch: a changelog, where a key's last row
// is its current value. Beyond the hot-state budget the least recently changed keys go to the
// backend ("running_acc" [key_group][key]) and come back on their next row: the keys of a batch
// that are not hot are read in one MultiGet, skipping those a Bloom filter of the written keys
// rules out (new keys). A key read back keeps its copy in the backend, overwritten when the key
// is written back again.
#include <algorithm>

#include "core/error.h"
#include "ops/aggregation_plan.h"
#include "ops/evict_oldest.h"
#include "ops/growing_bloom_filter.h"
#include "ops/key_table.h"
#include "ops/probe_table.h"
#include "ops/window_result.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

constexpr uint32_t kNone = 0xffffffffu;

class RunningAggregateState final : public KeyedOperatorState {
 public:
  RunningAggregateState(const AggregationPlan& plan, SubtaskContext context)
      : plan_(plan),
        layout_(*plan.layout),
        context_(std::move(context)),
        backend_(*context_.state),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        acc_cf_(backend_.ColumnFamily("running_acc")),
        keys_(*plan.input_schema, plan.key_columns),
        groups_(layout_),
        results_(plan.output_schema, keys_, layout_, nullptr, false) {}

  ~RunningAggregateState() override {
    metrics_->state_entries -= static_cast<int64_t>(groups_.live()) + spilled_keys_ - hot_in_backend_;
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
    to_load_.clear();
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t slot = slots_[i];
      uint32_t group = slot_group_[slot];
      if (group == kNone) group = NewGroup(slot, next_seq_ + i);
      if (group_touched_[group] != batch_number_) {
        group_touched_[group] = batch_number_;
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
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, HotBytes()));
    MaybeSpill();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, HotBytes()));
    if (backend_dirty_) {
      backend_.Commit();
      backend_dirty_ = false;
    }
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
      group_in_backend_.resize(groups_.capacity(), 0);
    }
    group_slot_[group] = slot;
    group_touched_[group] = 0;
    group_in_backend_[group] = 0;
    slot_group_[slot] = group;
    keys_.Retain(slot);
    groups_.header(group)->first_seq = first_seq;
    ++metrics_->state_entries;
    if (spilled_keys_ > 0) {
      std::string key = AccKey(slot);
      if (written_.MayContain(HashBytes(key))) {
        to_load_.push_back(group);
        load_keys_.push_back(std::move(key));
      }
    }
    return group;
  }

  std::string AccKey(uint32_t slot) const {
    std::string bytes;
    AppendKeyGroup(keys_.key_group(slot), &bytes);
    keys_.AppendEncoded(slot, &bytes);
    return bytes;
  }

  // Reads the new groups of the batch that may be in the backend (to_load_) back, at once.
  void LoadSpilled() {
    if (to_load_.empty()) return;
    metrics_->state_reads += static_cast<int64_t>(load_keys_.size());
    backend_.MultiGet(acc_cf_, load_keys_, [&](size_t i, std::string_view value) {
      const uint32_t group = to_load_[i];
      layout_.Deserialize(value, groups_.row(group), &heap_bytes_);
      group_in_backend_[group] = 1;
      ++hot_in_backend_;
      --metrics_->state_entries;  // counted in the backend already
    });
    to_load_.clear();
    load_keys_.clear();
  }

  int64_t HotBytes() const {
    const int64_t per_group = static_cast<int64_t>(layout_.row_bytes()) + 16;
    return static_cast<int64_t>(groups_.live()) * per_group +
           static_cast<int64_t>(keys_.memory_bytes() + written_.memory_bytes()) + heap_bytes_;
  }

  void MaybeSpill() {
    const int64_t budget = context_.hot_state_bytes;
    if (budget < 0 || HotBytes() <= budget) return;
    std::vector<AgeEntry> by_age;  // (touched, group)
    by_age.reserve(groups_.live());
    for (uint32_t g = 0; g < groups_.capacity(); ++g) {
      if (groups_.in_use(g)) by_age.emplace_back(group_touched_[g], g);
    }
    EvictOldest(&by_age, [&] { return HotBytes() > budget / 4 * 3; }, [&](uint32_t group) {
      const uint32_t slot = group_slot_[group];
      value_.clear();
      layout_.Serialize(groups_.row(group), &value_);
      std::string key = AccKey(slot);
      backend_.Put(acc_cf_, key, value_);
      ++metrics_->state_writes;
      if (group_in_backend_[group]) {
        --hot_in_backend_;
      } else {
        written_.Add(HashBytes(key));
        ++spilled_keys_;
      }
      slot_group_[slot] = kNone;
      keys_.Release(slot);
      groups_.Free(group, &heap_bytes_);
      backend_dirty_ = true;
    });
  }

  const AggregationPlan& plan_;
  const AccumulatorLayout& layout_;
  SubtaskContext context_;
  StateBackend& backend_;
  OperatorMetrics own_metrics_{"running aggregation"};
  OperatorMetrics* metrics_;
  int acc_cf_;
  KeyTable keys_;
  GroupRows groups_;
  ResultBuilder results_;

  std::vector<uint32_t> slot_group_;     // per key slot
  std::vector<uint32_t> group_slot_;     // per group
  std::vector<uint32_t> group_touched_;  // per group: batch number of the last row
  std::vector<uint8_t> group_in_backend_;  // per group: read back, the backend holds a copy
  GrowingBloomFilter written_;           // keys written to the backend
  int64_t spilled_keys_ = 0;             // keys in the backend
  int64_t hot_in_backend_ = 0;           // hot keys with a copy in the backend
  int64_t next_seq_ = 0;
  int64_t heap_bytes_ = 0;
  uint32_t batch_number_ = 0;
  bool backend_dirty_ = false;

  std::vector<uint32_t> slots_, group_of_row_, changed_;
  std::vector<int32_t> changed_first_row_;       // per changed group: its first row in the batch
  std::vector<const uint8_t*> changed_rows_;     // per changed group: its accumulators
  std::vector<uint32_t> to_load_;        // new groups of this batch to look for in the backend
  std::vector<std::string> load_keys_;   // and their keys
  std::vector<const arrow::Array*> inputs_;
  std::string value_;
};

}  // namespace

std::unique_ptr<KeyedOperatorState> MakeRunningAggregateState(const AggregationPlan& plan,
                                                              SubtaskContext context) {
  return std::make_unique<RunningAggregateState>(plan, std::move(context));
}

}  // namespace millstream
