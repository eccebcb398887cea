// Builds the result batches of a keyed aggregation: the key columns, window_start and
// window_end (in the time column's type; left out for running aggregates), one column per
// aggregate, then is_update when the operator re-emits windows (allowed lateness).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <arrow/array/builder_base.h>

#include "core/batch.h"
#include "ops/accumulator_rows.h"
#include "ops/event_time.h"
#include "ops/key_table.h"
#include "ops/keyed_operator.h"

namespace millstream {

class ResultBuilder {
 public:
  // `event_time` nullptr: no window columns.
  ResultBuilder(SchemaPtr schema, const KeyTable& keys, const AccumulatorLayout& layout,
                const EventTime* event_time, bool with_is_update);

  // One result row: the key of `slot` (or encoded `key_bytes`), the window, the aggregates of
  // accumulator `row`.
  void AppendSlot(uint32_t slot, int64_t start_ms, int64_t end_ms, const uint8_t* row,
                  bool is_update);
  void AppendEncoded(std::string_view key_bytes, int64_t start_ms, int64_t end_ms,
                     const uint8_t* row, bool is_update);
  // Result rows without window columns whose keys are copied from `input` (its `key_columns` at
  // rows `key_rows`, ascending): row i has the aggregates of accumulator `acc_rows[i]`. For keys
  // seen in the current input batch this beats AppendSlot, whose key table slots lie all over
  // memory (a cache miss per row with millions of keys). Ends the batch being built first.
  void AppendWithInputKeys(const arrow::RecordBatch& input, const std::vector<int>& key_columns,
                           const std::vector<int32_t>& key_rows,
                           const std::vector<const uint8_t*>& acc_rows);
  int64_t pending_rows() const { return rows_ + static_cast<int64_t>(done_.size()) * kDefaultBatchSize; }
  // Emits everything appended on port 0, in batches of at most kDefaultBatchSize rows.
  void Flush(Emitter& out);

 private:
  void AppendRest(int64_t start_ms, int64_t end_ms, const uint8_t* row, bool is_update);
  void FinishBatch();
  // Adds the window, aggregate and is_update columns built so far to the key columns `columns`
  // of `rows` rows, and keeps the batch for Flush.
  void CompleteBatch(arrow::ArrayVector columns, int64_t rows);

  SchemaPtr schema_;
  const AccumulatorLayout& layout_;
  const EventTime* event_time_;
  bool with_is_update_;
  KeyTable::Builder keys_;
  std::vector<int64_t> starts_ms_, ends_ms_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> aggregates_;
  std::vector<bool> is_update_;
  int64_t rows_ = 0;
  std::vector<BatchPtr> done_;
};

}  // namespace millstream
