// The interval join of one subtask (semantics: ops/interval_join.h). Per key it buffers the
// rows of both inputs that a future row could still match; a new row probes the other input's
// rows of its key and emits each pair at once. Every buffered row has a timer at its bound
// (left time + upper, right time - lower); when the watermark passes it, the row leaves the
// state, emitted alone first if its side is outer and it never matched.
//
// The state of a key (both inputs' buffered rows) is one entry of the keyed state store
// (state/keyed_state_store.h), named by the key's slot in the key table: beyond the hot budget
// the least recently touched keys go to the backend ("join_rows" [key_group][key]) and come back
// when a row of their key arrives or one of their timers is due. The key slot and the timers
// stay in memory while a key has rows (cold or hot); only the rows leave.
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include <arrow/array.h>

#include "core/error.h"
#include "core/key_encoding.h"
#include "core/key_groups.h"
#include "core/time_arithmetic.h"
#include "ops/aggregation_plan.h"
#include "ops/interval_join_plan.h"
#include "ops/key_table.h"
#include "ops/keyed_snapshot.h"
#include "ops/timer_buckets.h"
#include "state/keyed_state_store.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

// A row's bytes, kept inline up to kInlineBytes (a narrow row: no allocation, which cost a
// malloc and a free per buffered row, ~15% of the join's CPU), on the heap beyond.
class RowBytes {
 public:
  static constexpr uint32_t kInlineBytes = 44;
  explicit RowBytes(std::string_view bytes) : size_(static_cast<uint32_t>(bytes.size())) {
    char* out = inline_;
    if (size_ > kInlineBytes) {
      heap_ = std::make_unique<char[]>(size_);
      out = heap_.get();
    }
    std::memcpy(out, bytes.data(), size_);
  }
  RowBytes(RowBytes&& other) noexcept { *this = std::move(other); }
  RowBytes& operator=(RowBytes&& other) noexcept {
    size_ = other.size_;
    heap_ = std::move(other.heap_);
    if (size_ <= kInlineBytes) std::memcpy(inline_, other.inline_, size_);
    return *this;
  }
  std::string_view view() const { return {heap_ ? heap_.get() : inline_, size_}; }
  int64_t heap_bytes() const { return heap_ ? size_ : 0; }

 private:
  uint32_t size_ = 0;
  char inline_[kInlineBytes];
  std::unique_ptr<char[]> heap_;
};

// A buffered row: its event time, whether it found a partner, its columns (KeyEncoder bytes in
// the plan's row order).
struct BufferedRow {
  int64_t time_ms;
  uint8_t side;  // its input: 0 left, 1 right
  bool matched;
  RowBytes bytes;
};

// A key's buffered rows of both inputs in one vector: one allocation a key (most keys have an
// A and a B), where a vector per input took two.
using KeyRows = std::vector<BufferedRow>;

struct SlotState {
  uint8_t has_rows = 0;  // the slot is retained and an entry of the store (hot or cold)
  uint8_t cold = 0;      // its rows are in the backend only
  uint32_t due_round = 0;  // FireTimers' round that last took it (dedupes its timers)
};

void AppendU32(uint32_t value, std::string* out) { out->append(reinterpret_cast<const char*>(&value), 4); }
void AppendI64(int64_t value, std::string* out) { out->append(reinterpret_cast<const char*>(&value), 8); }

// Reads what Serialize wrote; a short value is a broken invariant (the bytes are ours).
class ValueReader {
 public:
  explicit ValueReader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  T Read() {
    MS_CHECK(bytes_.size() >= sizeof(T), "a join state value ends early");
    T value;
    std::memcpy(&value, bytes_.data(), sizeof(T));
    bytes_.remove_prefix(sizeof(T));
    return value;
  }
  std::string_view Take(size_t length) {
    MS_CHECK(bytes_.size() >= length, "a join state value ends early");
    std::string_view result = bytes_.substr(0, length);
    bytes_.remove_prefix(length);
    return result;
  }
  bool done() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

// Timers are grouped by about a minute of event time, or the interval when that is shorter.
int64_t TimerBucketWidth(const IntervalJoinSpec& spec) {
  return std::clamp<int64_t>(spec.upper_ms - spec.lower_ms, 1, 60'000);
}

class IntervalJoinState final : public KeyedOperatorState, private KeyedEntryCodec {
 public:
  IntervalJoinState(const IntervalJoinPlan& plan, SubtaskContext context)
      : plan_(plan),
        spec_(plan.spec),
        context_(std::move(context)),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        store_(*context_.state, "join_rows", context_.hot_state_bytes, metrics_, this),
        keys_(*plan.key_schema, AllColumns(plan.key_schema->num_fields())),
        key_length_(*plan.key_schema, AllColumns(plan.key_schema->num_fields())),
        timers_(TimerBucketWidth(plan.spec)),
        decoders_{KeyDecoder(*plan.input_schemas[0], plan.row_order[0]),
                  KeyDecoder(*plan.input_schemas[1], plan.row_order[1])} {
    for (int side = 0; side < 2; ++side) {
      null_rows_[side].assign(plan.row_order[side].size(), '\0');  // a null marker a column
    }
    if (!context_.restore_from.empty()) Restore();
  }

  // The rows are all in the backend (written out at the barrier); only the bookkeeping is ours.
  void Snapshot(const SnapshotTarget& target) override {
    SnapshotKeyedState(target, context_, store_, step_, {});
  }

  void OnBatch(const BatchPtr&, const std::vector<uint16_t>&, Emitter&) override {
    MS_CHECK(false, "an interval join's batches come with their input (OnInputBatch)");
  }

  void OnInputBatch(int side, const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
                    const WatermarkMarks* marks, Emitter& out) override {
    MS_CHECK(side == 0 || side == 1, "an interval join has two inputs");
    const int64_t n = rows->num_rows();
    if (n == 0) return;
    ++step_;
    Prepare(side, *rows, key_groups);
    int64_t begin = 0;
    if (marks != nullptr) {
      // Each row is late or not by the watermark in force before it (core/watermark_marks.h).
      for (const WatermarkMark& mark : *marks) {
        MS_CHECK(mark.row >= begin && mark.row < n, "watermark marks out of order");
        AddRows(side, begin, mark.row, out);
        EmitLateRows(rows, late_rows_, out, metrics_, 1 + side);
        late_rows_.clear();
        begin = mark.row;
        FireTimers(mark.watermark_ms, out);
        Flush(out);
        out.Watermark(mark.watermark_ms);
      }
    }
    AddRows(side, begin, n, out);
    EmitLateRows(rows, late_rows_, out, metrics_, 1 + side);
    late_rows_.clear();
    Flush(out);
    FinishStep();
  }

  void OnWatermark(int64_t watermark_ms, Emitter& out) override {
    ++step_;
    FireTimers(watermark_ms, out);
    Flush(out);
    FinishStep();
  }

  // The final watermark came first and emptied the state.
  void OnEnd(Emitter& out) override { Flush(out); }

 private:
  static std::vector<int> AllColumns(int count) {
    std::vector<int> columns(count);
    for (int i = 0; i < count; ++i) columns[i] = i;
    return columns;
  }

  // Times, key slots and null keys of a batch, and its cold keys read back, before any row of
  // it is added (a mark's timers in between may read more back, but evict nothing).
  void Prepare(int side, const arrow::RecordBatch& rows, const std::vector<uint16_t>& key_groups) {
    const int64_t n = rows.num_rows();
    plan_.event_times[side]->ToMs(rows, &times_ms_);
    arrow::ArrayVector key_arrays;
    for (int column : spec_.keys[side]) key_arrays.push_back(rows.column(column));
    const auto key_batch = arrow::RecordBatch::Make(plan_.key_schema, n, std::move(key_arrays));
    keys_.Lookup(*key_batch, key_groups, &slots_);
    null_key_.assign(n, 0);
    for (int column : spec_.keys[side]) {
      const KeyColumnView view = KeyColumnView::Of(*rows.column(column), *rows.schema()->field(column));
      if (view.validity == nullptr) continue;
      for (int64_t i = 0; i < n; ++i) null_key_[i] |= view.IsNull(i);
    }
    if (slot_states_.size() < keys_.slot_capacity()) slot_states_.resize(keys_.slot_capacity());
    if (rows_.size() < keys_.slot_capacity()) rows_.resize(keys_.slot_capacity());
    for (int64_t i = 0; i < n; ++i) {
      if (!null_key_[i] && slot_states_[slots_[i]].cold) RequestLoad(slots_[i]);
    }
    LoadRequested();
    encoder_.emplace(rows, plan_.row_order[side]);
  }

  void AddRows(int side, int64_t begin, int64_t end, Emitter& out) {
    const int other = 1 - side;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t time_ms = times_ms_[i];
      if (time_ms < watermark_ms_) {
        late_rows_.push_back(i);
        continue;
      }
      std::string& bytes = row_scratch_;
      bytes.clear();
      encoder_->Append(i, &bytes);
      if (null_key_[i]) {
        if (spec_.outer[side]) AppendUnmatched(side, bytes);
        continue;
      }
      const uint32_t slot = slots_[i];
      SlotState& state = slot_states_[slot];
      if (!state.has_rows) {
        state.has_rows = 1;
        keys_.Retain(slot);
        store_.Add(slot, step_);
      }
      MS_CHECK(!state.cold, "a row's key was read back before its batch");
      KeyRows& key_rows = rows_[slot];
      bool matched = false;
      for (BufferedRow& partner : key_rows) {
        if (partner.side != other) continue;
        const int64_t right_minus_left =
            side == 0 ? partner.time_ms - time_ms : time_ms - partner.time_ms;
        if (right_minus_left < spec_.lower_ms || right_minus_left > spec_.upper_ms) continue;
        matched = true;
        partner.matched = true;
        if (side == 0) {
          AppendPair(bytes, partner.bytes.view());
        } else {
          AppendPair(partner.bytes.view(), bytes);
        }
      }
      timers_.Push(Bound(side, time_ms), slot);
      if (key_rows.empty()) key_rows.reserve(2);
      key_rows.push_back(BufferedRow{time_ms, static_cast<uint8_t>(side), matched, RowBytes(bytes)});
      hot_bytes_ += HotBytesOf(key_rows.back());
      store_.Touch(slot, step_);
    }
  }

  // The time after which no row that is not late can match a row of `side` at `time_ms`.
  int64_t Bound(int side, int64_t time_ms) const {
    return side == 0 ? SaturatingAdd(time_ms, spec_.upper_ms)
                     : SaturatingSubtract(time_ms, spec_.lower_ms);
  }

  // The watermark moved to `watermark_ms`: rows whose bound is behind it leave the state.
  void FireTimers(int64_t watermark_ms, Emitter& out) {
    if (watermark_ms <= watermark_ms_) return;
    watermark_ms_ = watermark_ms;
    due_.clear();
    timers_.PopDue(watermark_ms - 1, &due_);  // bound < watermark
    if (due_.empty()) return;
    ++due_round_;
    due_slots_.clear();
    for (const auto& [bound_ms, slot] : due_) {
      SlotState& state = slot_states_[slot];
      if (state.due_round == due_round_ || !state.has_rows) continue;
      state.due_round = due_round_;
      due_slots_.push_back(slot);
      if (state.cold) RequestLoad(slot);
    }
    LoadRequested();
    for (uint32_t slot : due_slots_) Expire(slot, out);
  }

  void Expire(uint32_t slot, Emitter& out) {
    KeyRows& rows = rows_[slot];
    size_t kept = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      const int side = rows[r].side;
      if (Bound(side, rows[r].time_ms) >= watermark_ms_) {
        if (kept != r) rows[kept] = std::move(rows[r]);
        ++kept;
        continue;
      }
      if (spec_.outer[side] && !rows[r].matched) AppendUnmatched(side, rows[r].bytes.view());
      hot_bytes_ -= HotBytesOf(rows[r]);
    }
    const bool changed = kept != rows.size();
    rows.erase(rows.begin() + static_cast<std::ptrdiff_t>(kept), rows.end());
    if (!rows.empty()) {
      // Its rows changed: a copy in the backend (from a checkpoint) must be written again.
      if (changed) store_.Touch(slot, step_);
      return;
    }
    rows = KeyRows{};
    store_.Remove(slot);
    slot_states_[slot].has_rows = 0;
    keys_.Release(slot);
  }

  void FinishStep() {
    store_.FinishStep();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, store_.HotBytes()));
  }

  // Every key comes back cold, with its slot and a timer per row at the row's bound, as before
  // the checkpoint: the timers live in memory for cold keys too, so the rows are read once
  // (their times; the row bytes stay in the backend).
  void Restore() {
    watermark_ms_ = context_.restored_watermark_ms;
    RestoreKeyedState(
        context_, store_,
        [&](std::string_view key, std::string_view value) {
          const uint32_t slot = keys_.LookupEncoded(key.substr(2), static_cast<uint16_t>(ReadKeyGroup(key)));
          if (slot_states_.size() < keys_.slot_capacity()) slot_states_.resize(keys_.slot_capacity());
          if (rows_.size() < keys_.slot_capacity()) rows_.resize(keys_.slot_capacity());
          SlotState& state = slot_states_[slot];
          MS_CHECK(!state.has_rows, "a join key restored twice");
          state.has_rows = 1;
          state.cold = 1;
          keys_.Retain(slot);
          ValueReader reader(value);
          const uint32_t count = reader.Read<uint32_t>();
          for (uint32_t r = 0; r < count; ++r) {
            const int64_t time_ms = reader.Read<int64_t>();
            const uint8_t side = reader.Read<uint8_t>();
            reader.Read<uint8_t>();  // matched
            reader.Take(reader.Read<uint32_t>());
            MS_CHECK(side < 2, "a join state row of no input");
            timers_.Push(Bound(side, time_ms), slot);
          }
        },
        /*scan_always=*/true);
  }

  // ---- read-back ----------------------------------------------------------------------------

  void RequestLoad(uint32_t slot) {
    SlotState& state = slot_states_[slot];
    state.cold = 0;
    store_.Add(slot, step_);
    key_.clear();
    AppendStateKey(slot, &key_);
    store_.RequestLoad(slot, key_);
    ++loading_;
  }

  void LoadRequested() {
    if (loading_ == 0) return;
    int64_t found = 0;
    store_.LoadRequested([&](uint32_t slot, std::string_view value) {
      ++found;
      ValueReader reader(value);
      KeyRows& key_rows = rows_[slot];
      const uint32_t count = reader.Read<uint32_t>();
      key_rows.reserve(count);
      for (uint32_t r = 0; r < count; ++r) {
        const int64_t time_ms = reader.Read<int64_t>();
        const uint8_t side = reader.Read<uint8_t>();
        const bool matched = reader.Read<uint8_t>() != 0;
        const uint32_t length = reader.Read<uint32_t>();
        MS_CHECK(side < 2, "a join state row of no input");
        key_rows.push_back(BufferedRow{time_ms, side, matched, RowBytes(reader.Take(length))});
        hot_bytes_ += HotBytesOf(key_rows.back());
      }
      MS_CHECK(reader.done(), "a join state value has bytes after its rows");
    });
    MS_CHECK(found == loading_, "a cold join key was not found in the state backend");
    loading_ = 0;
  }

  // ---- output --------------------------------------------------------------------------------

  void AppendPair(std::string_view left, std::string_view right) {
    decoders_[0].Append(left);
    decoders_[1].Append(right);
    if (decoders_[0].length() >= kDefaultBatchSize) FinishOutputBatch();
  }

  // A row without a partner: nulls for the other side, but for merged keys an unmatched right
  // row's key goes into the left key columns (the coalesced key).
  void AppendUnmatched(int side, std::string_view bytes) {
    if (side == 0) {
      AppendPair(bytes, null_rows_[1]);
      return;
    }
    if (!spec_.merge_keys) {
      AppendPair(null_rows_[0], bytes);
      return;
    }
    const size_t key_bytes = key_length_.KeyLength(bytes);
    left_with_key_.assign(bytes.substr(0, key_bytes));
    left_with_key_.append(null_rows_[0].size() - spec_.keys[0].size(), '\0');
    AppendPair(left_with_key_, bytes);
  }

  void FinishOutputBatch() {
    const int64_t length = decoders_[0].length();
    if (length == 0) return;
    const arrow::ArrayVector sides[2] = {decoders_[0].Finish(), decoders_[1].Finish()};
    arrow::ArrayVector columns;
    for (const auto& [side, position] : plan_.output_columns) columns.push_back(sides[side][position]);
    done_.push_back(arrow::RecordBatch::Make(plan_.output_schema, length, std::move(columns)));
  }

  void Flush(Emitter& out) {
    FinishOutputBatch();
    for (BatchPtr& batch : done_) out.Emit(0, std::move(batch));
    done_.clear();
  }

  // ---- KeyedEntryCodec: an entry is a key's buffered rows, named by its key slot ------------

  void AppendStateKey(uint32_t slot, std::string* key) const override {
    AppendKeyGroup(keys_.key_group(slot), key);
    keys_.AppendEncoded(slot, key);
  }

  void Serialize(uint32_t slot, std::string* value) override {
    const KeyRows& key_rows = rows_[slot];
    AppendU32(static_cast<uint32_t>(key_rows.size()), value);
    for (const BufferedRow& row : key_rows) {
      AppendI64(row.time_ms, value);
      value->push_back(static_cast<char>(row.side));
      value->push_back(row.matched ? 1 : 0);
      const std::string_view bytes = row.bytes.view();
      AppendU32(static_cast<uint32_t>(bytes.size()), value);
      value->append(bytes);
    }
  }

  // The rows leave memory; the key keeps its slot and timers (it has rows, in the backend).
  void Evicted(uint32_t slot) override {
    KeyRows& key_rows = rows_[slot];
    for (const BufferedRow& row : key_rows) hot_bytes_ -= HotBytesOf(row);
    key_rows = KeyRows{};
    slot_states_[slot].cold = 1;
  }

  int64_t HotBytes() const override {
    return hot_bytes_ + static_cast<int64_t>(keys_.memory_bytes()) +
           static_cast<int64_t>(rows_.capacity() * sizeof(KeyRows) +
                                slot_states_.capacity() * sizeof(SlotState));
  }

  static int64_t HotBytesOf(const BufferedRow& row) {
    return static_cast<int64_t>(sizeof(BufferedRow)) + row.bytes.heap_bytes();
  }

  const IntervalJoinPlan& plan_;
  const IntervalJoinSpec& spec_;
  SubtaskContext context_;
  OperatorMetrics own_metrics_{"interval join"};
  OperatorMetrics* metrics_;
  KeyedStateStore store_;
  KeyTable keys_;
  KeyDecoder key_length_;  // measures the key at the start of a row's bytes
  TimerBuckets timers_;
  KeyDecoder decoders_[2];  // the output's left and right columns, in row order
  std::string null_rows_[2];

  std::vector<KeyRows> rows_;            // per key slot
  std::vector<SlotState> slot_states_;   // per key slot
  int64_t watermark_ms_ = kMinWatermarkMs;
  int64_t hot_bytes_ = 0;
  uint32_t step_ = 0;
  uint32_t due_round_ = 0;
  int64_t loading_ = 0;

  // Per batch.
  std::vector<int64_t> times_ms_;
  std::vector<uint32_t> slots_;
  std::vector<uint8_t> null_key_;
  std::vector<int64_t> late_rows_;
  std::optional<KeyEncoder> encoder_;  // the batch's rows, in row order
  // Scratch.
  std::vector<TimerBuckets::Timer> due_;
  std::vector<uint32_t> due_slots_;
  std::vector<BatchPtr> done_;
  std::string key_, left_with_key_, row_scratch_;
};

}  // namespace

std::unique_ptr<KeyedOperatorState> MakeIntervalJoinState(const IntervalJoinPlan& plan,
                                                          SubtaskContext context) {
  return std::make_unique<IntervalJoinState>(plan, std::move(context));
}

}  // namespace millstream
