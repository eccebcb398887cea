// The columns of one batch under construction, filled by hand (no Arrow builders: a reader
// writes a value with one store). A row is written slot by slot at index `rows()`, in any
// column order, and becomes part of the batch only at CommitRow(): a row found bad half way
// is simply not committed, and its slots are overwritten by the next row.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/buffer.h>

#include "core/batch.h"

namespace millstream {

enum class ColumnKind : uint8_t { kInt64, kFloat64, kBool, kString, kTimestamp };

struct ColumnSpec {
  std::string name;
  ColumnKind kind;
  arrow::TimeUnit::type unit = arrow::TimeUnit::MILLI;  // timestamps only
  bool required = false;                                // nullable() == false in the schema
  // Timestamps declared without a unit (Python's bare ms.timestamp; field metadata
  // kUnitNotGivenKey): an integer there is refused, as its unit (s, ms, us) would be a guess.
  bool integers_refused = false;
};

// The field metadata key that marks a timestamp declared without a unit (see ColumnSpec).
inline constexpr const char* kUnitNotGivenKey = "millstream.timestamp_unit_not_given";

// What a reader says of an integer in such a column.
inline constexpr const char* kIntegerWithoutUnit =
    "an integer for a timestamp declared without a unit (ms.timestamp): declare "
    "ms.timestamp(\"ms\") for epoch milliseconds (or \"s\", \"us\", \"ns\"), or read it as "
    "ms.int64 and convert with ms.from_epoch(col, unit)";

// The specs of the schema's columns; throws UserError naming `source` and the field when a
// type is not one a text file can hold (int64, float64, bool, string, timestamp).
std::vector<ColumnSpec> ColumnSpecsOf(const arrow::Schema& schema, const std::string& source);

// Spelling of a kind in error messages: "int64", "float64", "bool", "string", "timestamp".
const char* KindName(ColumnKind kind);

// Input bytes after which a reader ends a batch early, whatever its row count, so that the
// string data of a batch fits Arrow's int32 offsets.
constexpr int64_t kMaxBatchTextBytes = int64_t{1} << 30;

class ColumnBuffers {
 public:
  ColumnBuffers(SchemaPtr schema, std::vector<ColumnSpec> specs, int64_t capacity_rows);

  int64_t rows() const { return rows_; }
  int64_t capacity() const { return capacity_rows_; }
  const std::vector<ColumnSpec>& specs() const { return specs_; }

  // Slot writers for row rows(); `column` must be of the matching kind.
  void SetInt64(int column, int64_t value) {  // int64 and timestamp columns
    Column& c = columns_[column];
    c.int64_values[rows_] = value;
    c.valid[rows_] = 1;
  }
  void SetFloat64(int column, double value) {
    Column& c = columns_[column];
    c.float64_values[rows_] = value;
    c.valid[rows_] = 1;
  }
  void SetBool(int column, bool value) {
    Column& c = columns_[column];
    c.bool_values[rows_] = value;
    c.valid[rows_] = 1;
  }
  // Writing a string twice in one row replaces it (JSON duplicate keys: the last one wins).
  // String data of a batch stays below 2 GiB (int32 offsets): readers end a batch after
  // kMaxBatchTextBytes of input.
  void SetString(int column, const char* data, size_t length) {
    Column& c = columns_[column];
    const int64_t start = c.offsets[rows_];
    if (start + static_cast<int64_t>(length) > c.chars_capacity) GrowChars(c, start + length);
    std::memcpy(c.chars + start, data, length);
    c.offsets[rows_ + 1] = static_cast<int32_t>(start + length);
    c.valid[rows_] = 1;
  }
  void SetNull(int column) {
    Column& c = columns_[column];
    c.valid[rows_] = 0;
    if (c.offsets != nullptr) c.offsets[rows_ + 1] = c.offsets[rows_];
  }
  void CommitRow();

  // The committed rows as a batch (null when there are none); starts a new batch.
  BatchPtr Finish();

 private:
  struct Column {
    std::shared_ptr<arrow::ResizableBuffer> values;  // 8-byte values, or int32 string offsets
    std::shared_ptr<arrow::ResizableBuffer> chars_buffer;
    int64_t* int64_values = nullptr;
    double* float64_values = nullptr;
    int32_t* offsets = nullptr;
    char* chars = nullptr;
    int64_t chars_capacity = 0;
    std::vector<uint8_t> bool_values;  // packed into a bitmap at Finish()
    std::vector<uint8_t> valid;        // 1 byte a row; a bitmap is built only if there are nulls
  };
  void Allocate(Column& column, const ColumnSpec& spec);
  void GrowChars(Column& column, int64_t needed_bytes);
  std::shared_ptr<arrow::Array> FinishColumn(Column& column, const ColumnSpec& spec, int index);

  SchemaPtr schema_;
  std::vector<ColumnSpec> specs_;
  std::vector<Column> columns_;
  int64_t capacity_rows_;
  int64_t rows_ = 0;
};

}  // namespace millstream
