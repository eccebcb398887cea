// The event time of a row, from its time column: an Arrow timestamp of any unit (converted to
// milliseconds, rounding down) or int64 epoch milliseconds. Window bounds go back out with the
// time column's own type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

namespace millstream {

class EventTime {
 public:
  // `column` -1: no time column (processing time); times go out as timestamp[ms].
  // Throws UserTypeError naming the operator and column for other column types.
  EventTime(const arrow::Schema& schema, int column, const std::string& operator_name);

  const std::shared_ptr<arrow::DataType>& type() const { return type_; }
  int column() const { return column_; }
  // Milliseconds of every row of `batch`; a null time is a UserError naming the column and row.
  void ToMs(const arrow::RecordBatch& batch, std::vector<int64_t>* times_ms) const;
  // A column of the time type holding `times_ms`.
  std::shared_ptr<arrow::Array> FromMs(const std::vector<int64_t>& times_ms) const;

 private:
  int column_;
  std::string name_;
  std::string operator_name_;
  std::shared_ptr<arrow::DataType> type_;
  int64_t units_per_ms_ = 1;  // as TimestampUnitsPerMs: -1000 for seconds
};

}  // namespace millstream
