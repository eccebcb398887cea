#include "formats/csv_record_decoder.h"

#include "core/error.h"
#include "formats/bad_rows.h"
#include "formats/csv_fields.h"

namespace millstream {

CsvRecordDecoder::CsvRecordDecoder(std::vector<ColumnSpec> specs, std::vector<int> targets,
                                   char delimiter)
    : specs_(std::move(specs)), targets_(std::move(targets)), delimiter_(delimiter) {
  for (int target : targets_) {
    MS_CHECK(target < static_cast<int>(specs_.size()), "a CSV field's column is out of range");
  }
}

bool CsvRecordDecoder::DecodeRecord(const char* begin, const char* end, bool maybe_non_ascii,
                                    ColumnBuffers& columns, RowProblem* problem) {
  const char* p = begin;
  const char delimiter = delimiter_;
  const int field_count = this->field_count();
  auto bad_count = [&] {
    problem->field.clear();
    problem->reason = FieldCountReason(begin, end);
    return false;
  };
  for (int field = 0; field < field_count; ++field) {
    const int column = targets_[field];
    const char* value_begin = p;
    const char* value_end;
    bool quoted = false;
    if (p < end && *p == '"') {
      quoted_text_.clear();
      const char* after = nullptr;
      if (const char* reason = ReadQuotedField(p, end, delimiter, &quoted_text_, &after)) {
        problem->field.clear();
        problem->reason = reason;
        return false;
      }
      p = after;
      value_begin = quoted_text_.data();
      value_end = value_begin + quoted_text_.size();
      quoted = true;
    } else {
      while (p < end && *p != delimiter) ++p;
      value_end = p;
    }
    if (column >= 0 && !SetValue(column, value_begin, value_end, quoted, maybe_non_ascii, columns)) {
      if (CountCsvFields(begin, end, delimiter) != field_count) return bad_count();
      problem->field = specs_[column].name;
      problem->reason = reason_;
      return false;
    }
    if (field + 1 < field_count) {
      if (p >= end) return bad_count();
      ++p;  // the delimiter
    } else if (p < end) {
      return bad_count();
    }
  }
  return true;
}

std::string CsvRecordDecoder::FieldCountReason(const char* begin, const char* end,
                                               int count) const {
  if (count < 0) count = CountCsvFields(begin, end, delimiter_);
  return "expected " + std::to_string(field_count()) + " fields, got " + std::to_string(count);
}

bool CsvRecordDecoder::Mismatch(const char* expected, const char* begin, const char* end) {
  reason_ = std::string(expected) + ", got " +
            DescribeValue(std::string_view(begin, static_cast<size_t>(end - begin)), true);
  return false;
}

}  // namespace millstream
