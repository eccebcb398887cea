// The values of one CSV record into one row of ColumnBuffers: the parsing shared by CSV files
// (csv_reader.cpp: a line is a record) and Kafka messages (a message's value is one record), so
// that both read values, treat empty and quoted fields, and word bad values the same way.
// An unquoted empty field is null (for strings too); a quoted empty field "" is an empty
// string; quoting as in csv_fields.h.
//
//   CsvRecordDecoder decoder(specs, {0, 1, 2}, ',');
//   RowProblem problem;
//   if (decoder.DecodeRecord(begin, end, true, columns, &problem)) columns.CommitRow();
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "formats/column_buffers.h"
#include "formats/iso_timestamp.h"
#include "formats/row_problem.h"
#include "formats/text_values.h"
#include "formats/utf8.h"

namespace millstream {

class CsvRecordDecoder {
 public:
  // `targets`: per field of a record, its column in `specs`, or -1 when it is not read.
  CsvRecordDecoder(std::vector<ColumnSpec> specs, std::vector<int> targets, char delimiter);

  int field_count() const { return static_cast<int>(targets_.size()); }
  const std::vector<int>& targets() const { return targets_; }
  const std::vector<ColumnSpec>& specs() const { return specs_; }

  // The record [begin, end) (without its line end), field by field, unquoting where a field
  // starts with '"': writes its values into row columns.rows() without committing it. Returns
  // false with `problem` set when it is not a valid row; a wrong number of fields is reported
  // as such even when a value failed first (the count explains the value).
  // `maybe_non_ascii`: false when the record is known to be ASCII (no UTF-8 check needed).
  bool DecodeRecord(const char* begin, const char* end, bool maybe_non_ascii,
                    ColumnBuffers& columns, RowProblem* problem);

  // "expected 3 fields, got 2" for the record [begin, end); `count` < 0: counted here.
  std::string FieldCountReason(const char* begin, const char* end, int count = -1) const;

  // Writes the field [begin, end) into `column` of row columns.rows(). Returns false with
  // reason() set when it does not fit the column's type. Inline: the CSV file reader calls it
  // once per field in its hot loop.
  bool SetValue(int column, const char* begin, const char* end, bool quoted,
                bool maybe_non_ascii, ColumnBuffers& columns) {
    const ColumnSpec& spec = specs_[column];
    if (begin == end && !(quoted && spec.kind == ColumnKind::kString)) {
      if (spec.required) {
        reason_ = "required field is empty";
        return false;
      }
      columns.SetNull(column);
      return true;
    }
    switch (spec.kind) {
      case ColumnKind::kInt64: {
        int64_t value;
        if (!ParseInt64Text(begin, end, &value)) return Mismatch("expected int64", begin, end);
        columns.SetInt64(column, value);
        return true;
      }
      case ColumnKind::kFloat64: {
        double value;
        if (!ParseFloat64Text(begin, end, &value)) return Mismatch("expected float64", begin, end);
        columns.SetFloat64(column, value);
        return true;
      }
      case ColumnKind::kBool: {
        bool value;
        if (!ParseBoolText(begin, end, &value)) return Mismatch("expected bool", begin, end);
        columns.SetBool(column, value);
        return true;
      }
      case ColumnKind::kString:
        if (maybe_non_ascii && !IsValidUtf8(begin, static_cast<size_t>(end - begin))) {
          reason_ = "invalid UTF-8";
          return false;
        }
        columns.SetString(column, begin, static_cast<size_t>(end - begin));
        return true;
      case ColumnKind::kTimestamp: {
        int64_t value;
        const bool integer = ParseInt64Text(begin, end, &value);
        if (integer && spec.integers_refused) return Mismatch(kIntegerWithoutUnit, begin, end);
        if (!integer &&
            !ParseIsoTimestamp(std::string_view(begin, static_cast<size_t>(end - begin)),
                               spec.unit, &value)) {
          return Mismatch("expected timestamp (ISO-8601 text or epoch integer)", begin, end);
        }
        columns.SetInt64(column, value);
        return true;
      }
    }
    return true;
  }
  const std::string& reason() const { return reason_; }  // of the last SetValue that failed

 private:
  bool Mismatch(const char* expected, const char* begin, const char* end);

  std::vector<ColumnSpec> specs_;
  std::vector<int> targets_;
  char delimiter_;
  std::string quoted_text_;
  std::string reason_;
};

}  // namespace millstream
