#include "ops/event_time.h"

#include <arrow/array/data.h>
#include <arrow/util/bit_util.h>

#include "core/error.h"
#include "core/recycling_pool.h"
#include "core/types.h"
#include "core/time_arithmetic.h"

namespace millstream {

EventTime::EventTime(const arrow::Schema& schema, int column, const std::string& operator_name)
    : column_(column), operator_name_(operator_name) {
  if (column < 0) {
    type_ = arrow::timestamp(arrow::TimeUnit::MILLI);
    return;
  }
  if (column >= schema.num_fields()) {
    throw UserError(operator_name + ": time column index " + std::to_string(column) +
                    " is outside the input schema (" + std::to_string(schema.num_fields()) +
                    " columns)");
  }
  const auto& field = schema.field(column);
  name_ = field->name();
  type_ = field->type();
  if (type_->id() == arrow::Type::TIMESTAMP) {
    units_per_ms_ =
        TimestampUnitsPerMs(static_cast<const arrow::TimestampType&>(*type_).unit());
  } else if (type_->id() != arrow::Type::INT64) {
    throw UserTypeError(operator_name + ": time column '" + name_ + "' has type " +
                        type_->ToString() +
                        "; event time needs a timestamp or int64 (epoch milliseconds) column");
  }
}

void EventTime::ToMs(const arrow::RecordBatch& batch, std::vector<int64_t>* times_ms) const {
  MS_CHECK(column_ >= 0, "processing-time windows have no time column");
  const arrow::ArrayData& data = *batch.column_data(column_);
  const int64_t rows = batch.num_rows();
  if (data.GetNullCount() > 0) {
    const uint8_t* validity = data.GetValues<uint8_t>(0, 0);
    for (int64_t i = 0; i < rows; ++i) {
      if (!arrow::bit_util::GetBit(validity, data.offset + i)) {
        throw UserError(operator_name_ + ": time column '" + name_ + "' is null at row " +
                        std::to_string(i) +
                        " of a batch; every row needs an event time (filter nulls out first)");
      }
    }
  }
  const int64_t* values = data.GetValues<int64_t>(1);
  times_ms->resize(rows);
  int64_t* out = times_ms->data();
  TimeValuesToMs(values, rows, units_per_ms_, out);
  CheckEventTimes(out, rows, operator_name_ + ": time column '" + name_ + "'");
}

std::shared_ptr<arrow::Array> EventTime::FromMs(const std::vector<int64_t>& times_ms) const {
  const int64_t rows = static_cast<int64_t>(times_ms.size());
  auto buffer = CheckArrow(arrow::AllocateBuffer(rows * sizeof(int64_t), EnginePool()), "time column");
  auto* out = reinterpret_cast<int64_t*>(buffer->mutable_data());
  for (int64_t i = 0; i < rows; ++i) {
    int64_t ms = times_ms[i];
    out[i] = units_per_ms_ == 1  ? ms
             : units_per_ms_ > 1 ? SaturatingMultiply(ms, units_per_ms_)
                                 : FloorDiv(ms, -units_per_ms_);
  }
  return arrow::MakeArray(
      arrow::ArrayData::Make(type_, rows, {nullptr, std::shared_ptr<arrow::Buffer>(std::move(buffer))}, 0));
}

}  // namespace millstream
