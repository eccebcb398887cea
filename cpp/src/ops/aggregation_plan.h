// The immutable plan of a keyed aggregation (window or running), shared by its subtasks' states,
// and the helpers those states share: state-backend key layout, late-row output.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch.h"
#include "core/key_groups.h"
#include "ops/accumulator_rows.h"
#include "ops/event_time.h"
#include "ops/key_table.h"
#include "ops/window_aggregate.h"
#include "ops/window_assigner.h"
#include "ops/keyed_operator.h"
#include "state/state_backend.h"

namespace millstream {

struct AggregationPlan {
  std::string name;  // names the operator in errors
  SchemaPtr input_schema;
  std::vector<int> key_columns;
  std::vector<int> aggregate_inputs;  // input column of each aggregate (-1: count rows)
  std::unique_ptr<AccumulatorLayout> layout;
  SchemaPtr output_schema;  // port 0

  // Windows only.
  bool windowed = false;
  std::unique_ptr<EventTime> event_time;
  WindowSpec window;
  int64_t allowed_lateness_ms = 0;
  std::optional<SliceAssigner> slices;  // tumbling and sliding
  std::function<int64_t()> clock_ms;    // processing time: wall-clock epoch milliseconds
};

// MakeWindowAggregate with the processing-time clock replaced (tests).
std::shared_ptr<KeyedOperator> MakeWindowAggregateWithClock(
    SchemaPtr input_schema, std::vector<int> key_columns, int time_column, WindowSpec window,
    int64_t allowed_lateness_ms, std::vector<AggregateSpec> aggregates,
    std::function<int64_t()> clock_ms);

// The states behind the operators (one file each).
std::unique_ptr<KeyedOperatorState> MakeSliceWindowState(const AggregationPlan& plan,
                                                         SubtaskContext context);
std::unique_ptr<KeyedOperatorState> MakeSessionWindowState(const AggregationPlan& plan,
                                                           SubtaskContext context);
std::unique_ptr<KeyedOperatorState> MakeRunningAggregateState(const AggregationPlan& plan,
                                                              SubtaskContext context);

// Sends rows `rows` of `batch` to `port` (late rows: 1; a join's right input's: 2) and counts
// them in metrics->rows_late.
void EmitLateRows(const BatchPtr& batch, const std::vector<int64_t>& rows, Emitter& out,
                  OperatorMetrics* metrics, int port = 1);

// The watermark side the window states share: a watermark (with processing time, the clock) or
// the end of the input fires the windows it passed (Advance), emits their rows (Flush) and ends
// the step (FinishStep: idle keys swept, hot state over its budget spilled, writes committed).
class WindowState : public KeyedOperatorState {
 public:
  void OnBatch(const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
               Emitter& out) final {
    OnMarkedBatch(rows, key_groups, {}, out);
  }
  // Rows between two marks are added with the watermark in force before them; at a mark the
  // windows it passed fire (their results and the late rows so far go out ahead of the mark's
  // watermark), as if the batch were cut there, without the cost of cut batches.
  void OnMarkedBatch(const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
                     const WatermarkMarks& marks, Emitter& out) final {
    const int64_t n = rows->num_rows();
    if (n == 0) return;
    late_rows_.clear();
    StartBatch(*rows, key_groups);
    int64_t begin = 0;
    for (const WatermarkMark& mark : marks) {
      AddRows(begin, mark.row);
      begin = mark.row;
      // With processing time the batch's rows were all timed by the clock at its start (and
      // none is late): firing by the clock between them would make later ones late.
      if (!plan_.window.processing_time) {
        Advance(mark.watermark_ms);
        Flush(out);
        EmitLateRows(rows, late_rows_, out, late_metrics());
        late_rows_.clear();
      }
      out.Watermark(mark.watermark_ms);
    }
    AddRows(begin, n);
    EndBatch(n);
    Flush(out);
    EmitLateRows(rows, late_rows_, out, late_metrics());
    FinishStep();
  }
  void OnWatermark(int64_t watermark_ms, Emitter& out) final {
    if (plan_.window.processing_time && watermark_ms != kFinalWatermarkMs) {
      watermark_ms = plan_.clock_ms();
    }
    Step(watermark_ms, out);
  }
  void OnEnd(Emitter& out) final { Step(kFinalWatermarkMs, out); }

 protected:
  explicit WindowState(const AggregationPlan& plan) : plan_(plan) {}
  // A batch's rows: per-batch work (times, key slots, aggregate inputs), then its rows in
  // parts [begin, end) by the watermark in force (rows late beyond their windows' lateness go
  // to late_rows_), then the end of the batch (`rows` of them).
  virtual void StartBatch(const arrow::RecordBatch& rows, const std::vector<uint16_t>& key_groups) = 0;
  virtual void AddRows(int64_t begin, int64_t end) = 0;
  virtual void EndBatch(int64_t rows) = 0;
  virtual OperatorMetrics* late_metrics() = 0;
  virtual void Advance(int64_t watermark_ms) = 0;
  virtual void Flush(Emitter& out) = 0;
  virtual void FinishStep() = 0;

  // The times of a batch's rows in ms: their event time; with processing time, the clock's now,
  // after firing the windows it passed.
  void RowTimes(const arrow::RecordBatch& rows, std::vector<int64_t>* times_ms) {
    if (plan_.window.processing_time) {
      const int64_t now_ms = plan_.clock_ms();
      Advance(now_ms);
      times_ms->assign(rows.num_rows(), now_ms);
    } else {
      plan_.event_time->ToMs(rows, times_ms);
    }
  }

  const AggregationPlan& plan_;
  std::vector<int64_t> late_rows_;  // of the current batch, not yet emitted

 private:
  void Step(int64_t watermark_ms, Emitter& out) {
    Advance(watermark_ms);
    Flush(out);
    FinishStep();
  }
};

// Keys in the state backend (DESIGN.md): [key_group u16 BE][key bytes][namespace], where a
// namespace is a time (a window or pane end, state_keys::AppendTime): core/key_groups.h.

// How many key slots without state a subtask keeps interned (KeyTable::Sweep): as many as there
// are keys with state (at least 64 k), so keys that come back soon are not interned again;
// with a budget (hot_state_bytes >= 0) none once the hot state (hot_bytes) passes half of it,
// as idle keys count against it.
inline size_t IdleKeysToKeep(const KeyTable& keys, int64_t hot_state_bytes, int64_t hot_bytes) {
  if (hot_state_bytes >= 0 && hot_bytes > hot_state_bytes / 2) return 0;
  return std::max<size_t>(size_t{1} << 16, keys.live_slots() - keys.idle_slots());
}

// Hands the input columns of the aggregates of a batch to Update: one per aggregate, nullptr
// for count of rows.
std::vector<const arrow::Array*> AggregateInputs(const AggregationPlan& plan,
                                                 const arrow::RecordBatch& batch);

}  // namespace millstream
