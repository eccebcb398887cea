#include "formats/csv_reader.h"

#include <string>

#include "core/error.h"
#include "formats/csv_fields.h"
#include "formats/iso_timestamp.h"
#include "formats/text_lines.h"
#include "formats/text_values.h"
#include "formats/utf8.h"

namespace millstream {

namespace {

class CsvReader final : public TextRowReader {
 public:
  CsvReader(std::vector<ColumnSpec> specs, CsvLayout layout, char delimiter)
      : specs_(std::move(specs)), layout_(std::move(layout)), delimiter_(delimiter) {
    MS_CHECK(static_cast<int>(layout_.targets.size()) == layout_.field_count,
             "one target per field");
  }

  const char* ReadRows(const char* cursor, const char* range_end, ColumnBuffers& columns,
                       BadRows& bad_rows) override {
    const int64_t capacity = columns.capacity();
    const char* const start = cursor;
    while (cursor < range_end && columns.rows() < capacity &&
           cursor - start < kMaxBatchTextBytes) {
      const TextLine line = NextLine(cursor, range_end);
      cursor = line.next;
      if (line.begin == line.end) continue;  // a blank line is not a row
      if (ParseRow(line, columns, bad_rows)) columns.CommitRow();
    }
    return cursor;
  }

 private:
  // Parses one line into row columns.rows(); false after reporting it as bad.
  bool ParseRow(const TextLine& line, ColumnBuffers& columns, BadRows& bad_rows) {
    const char* p = line.begin;
    const char* const end = line.end;
    const char delimiter = delimiter_;
    const int field_count = layout_.field_count;
    for (int field = 0; field < field_count; ++field) {
      const int column = layout_.targets[field];
      const char* value_begin = p;
      const char* value_end;
      bool quoted = false;
      unsigned char high_bits = 0;  // OR of the bytes: >= 0x80 means non-ASCII, check UTF-8
      if (p < end && *p == '"') {
        quoted_text_.clear();
        const char* after = nullptr;
        if (const char* reason = ReadQuotedField(p, end, delimiter, &quoted_text_, &after)) {
          return Bad(line, bad_rows, -1, reason);
        }
        p = after;
        value_begin = quoted_text_.data();
        value_end = value_begin + quoted_text_.size();
        quoted = true;
        for (const char c : quoted_text_) high_bits |= static_cast<unsigned char>(c);
      } else {
        while (p < end && *p != delimiter) {
          high_bits |= static_cast<unsigned char>(*p);
          ++p;
        }
        value_end = p;
      }
      if (column >= 0 &&
          !SetValue(column, value_begin, value_end, quoted, high_bits, columns)) {
        return Bad(line, bad_rows, column, reason_);
      }
      if (field + 1 < field_count) {
        if (p >= end) return BadFieldCount(line, bad_rows);
        ++p;  // the delimiter
      } else if (p < end) {
        return BadFieldCount(line, bad_rows);
      }
    }
    return true;
  }

  bool SetValue(int column, const char* begin, const char* end, bool quoted,
                unsigned char high_bits, ColumnBuffers& columns) {
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
        if (high_bits >= 0x80 && !IsValidUtf8(begin, static_cast<size_t>(end - begin))) {
          reason_ = "invalid UTF-8";
          return false;
        }
        columns.SetString(column, begin, static_cast<size_t>(end - begin));
        return true;
      case ColumnKind::kTimestamp: {
        int64_t value;
        if (!ParseInt64Text(begin, end, &value) &&
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

  bool Mismatch(const char* expected, const char* begin, const char* end) {
    reason_ = std::string(expected) + ", got " +
              DescribeValue(std::string_view(begin, static_cast<size_t>(end - begin)), true);
    return false;
  }

  // A row with the wrong number of fields is reported as such, even when one of its values
  // failed first: the count explains the value. (`column` -1: a quoting error of the row.)
  bool Bad(const TextLine& line, BadRows& bad_rows, int column, const std::string& reason) {
    if (column >= 0 && CountCsvFields(line.begin, line.end, delimiter_) != layout_.field_count) {
      return BadFieldCount(line, bad_rows);
    }
    bad_rows.Report(line.begin, line.end, column >= 0 ? std::string_view(specs_[column].name) : "",
                    reason);
    return false;
  }

  bool BadFieldCount(const TextLine& line, BadRows& bad_rows) {
    const int count = CountCsvFields(line.begin, line.end, delimiter_);
    bad_rows.Report(line.begin, line.end, {},
                    "expected " + std::to_string(layout_.field_count) + " fields, got " +
                        std::to_string(count));
    return false;
  }

  std::vector<ColumnSpec> specs_;
  CsvLayout layout_;
  char delimiter_;
  std::string quoted_text_;
  std::string reason_;
};

}  // namespace

std::unique_ptr<TextRowReader> MakeCsvReader(std::vector<ColumnSpec> specs, CsvLayout layout,
                                             char delimiter) {
  return std::make_unique<CsvReader>(std::move(specs), std::move(layout), delimiter);
}

}  // namespace millstream
