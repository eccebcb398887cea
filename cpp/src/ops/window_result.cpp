#include "ops/window_result.h"

#include <algorithm>

#include <arrow/builder.h>

#include "core/error.h"
#include "expr/row_selection.h"

namespace millstream {

ResultBuilder::ResultBuilder(SchemaPtr schema, const KeyTable& keys,
                             const AccumulatorLayout& layout, const EventTime* event_time,
                             bool with_is_update)
    : schema_(std::move(schema)),
      layout_(layout),
      event_time_(event_time),
      with_is_update_(with_is_update),
      keys_(keys),
      aggregates_(layout.MakeBuilders()) {}

void ResultBuilder::AppendSlot(uint32_t slot, int64_t start_ms, int64_t end_ms,
                               const uint8_t* row, bool is_update) {
  keys_.AppendSlot(slot);
  AppendRest(start_ms, end_ms, row, is_update);
}

void ResultBuilder::AppendEncoded(std::string_view key_bytes, int64_t start_ms, int64_t end_ms,
                                  const uint8_t* row, bool is_update) {
  keys_.AppendEncoded(key_bytes);
  AppendRest(start_ms, end_ms, row, is_update);
}

void ResultBuilder::AppendRest(int64_t start_ms, int64_t end_ms, const uint8_t* row,
                               bool is_update) {
  if (event_time_ != nullptr) {
    starts_ms_.push_back(start_ms);
    ends_ms_.push_back(end_ms);
  }
  layout_.Finalize(row, aggregates_);
  if (with_is_update_) is_update_.push_back(is_update);
  if (++rows_ == kDefaultBatchSize) FinishBatch();
}

void ResultBuilder::FinishBatch() {
  if (rows_ == 0) return;
  CompleteBatch(keys_.Finish(), rows_);
  rows_ = 0;
}

void ResultBuilder::CompleteBatch(arrow::ArrayVector columns, int64_t rows) {
  if (event_time_ != nullptr) {
    columns.push_back(event_time_->FromMs(starts_ms_));
    columns.push_back(event_time_->FromMs(ends_ms_));
    starts_ms_.clear();
    ends_ms_.clear();
  }
  for (auto& builder : aggregates_) columns.push_back(CheckArrow(builder->Finish(), "result"));
  if (with_is_update_) {
    arrow::BooleanBuilder flags;
    CheckArrow(flags.AppendValues(is_update_), "is_update");
    columns.push_back(CheckArrow(flags.Finish(), "is_update"));
    is_update_.clear();
  }
  MS_CHECK(static_cast<int>(columns.size()) == schema_->num_fields(),
           "result columns do not match the output schema");
  done_.push_back(arrow::RecordBatch::Make(schema_, rows, std::move(columns)));
}

void ResultBuilder::AppendWithInputKeys(const arrow::RecordBatch& input,
                                        const std::vector<int>& key_columns,
                                        const std::vector<int32_t>& key_rows,
                                        const std::vector<const uint8_t*>& acc_rows) {
  MS_CHECK(event_time_ == nullptr && !with_is_update_, "input keys are for running aggregates");
  MS_CHECK(key_rows.size() == acc_rows.size(), "one accumulator per key row");
  FinishBatch();
  for (size_t begin = 0; begin < key_rows.size(); begin += kDefaultBatchSize) {
    const size_t end = std::min(key_rows.size(), begin + static_cast<size_t>(kDefaultBatchSize));
    expr::RowSelection selection{arrow::Buffer::Wrap(key_rows.data() + begin, end - begin),
                                 static_cast<int64_t>(end - begin), nullptr};
    arrow::ArrayVector columns;
    for (int column : key_columns) columns.push_back(expr::TakeSelected(*input.column(column), selection));
    for (size_t i = begin; i < end; ++i) layout_.Finalize(acc_rows[i], aggregates_);
    CompleteBatch(std::move(columns), selection.count);
  }
}

void ResultBuilder::Flush(Emitter& out) {
  FinishBatch();
  for (BatchPtr& batch : done_) out.Emit(0, std::move(batch));
  done_.clear();
}

}  // namespace millstream
