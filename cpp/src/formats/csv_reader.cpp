#include "formats/csv_reader.h"

#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/error.h"
#include "formats/csv_fields.h"
#include "formats/iso_timestamp.h"
#include "formats/text_lines.h"
#include "formats/text_values.h"
#include "formats/utf8.h"

namespace millstream {

namespace {

// Where the fields of a line end, found 16 bytes at a time (SSE2 compares and bit masks) in
// the same pass that finds the line end, instead of byte by byte.
struct LineScan {
  const char* end = nullptr;   // the '\n' ending the line, or the end of the file
  int delimiters = 0;          // delimiters seen (the line has delimiters + 1 fields)
  bool has_quote = false;      // quoted fields take the careful path
  bool has_high_bytes = false; // non-ASCII bytes: string fields are checked for valid UTF-8
};

class CsvReader final : public TextRowReader {
 public:
  CsvReader(std::vector<ColumnSpec> specs, CsvLayout layout, char delimiter, const char* readable_end)
      : specs_(std::move(specs)),
        layout_(std::move(layout)),
        delimiter_(delimiter),
        readable_end_(readable_end),
        field_ends_(layout_.field_count + 1) {
    MS_CHECK(static_cast<int>(layout_.targets.size()) == layout_.field_count,
             "one target per field");
  }

  const char* ReadRows(const char* cursor, const char* range_end, ColumnBuffers& columns,
                       BadRows& bad_rows) override {
    const char* const start = cursor;
    while (ReadsOn(start, cursor, range_end, columns)) {
      const LineScan scan = ScanLine(cursor);
      TextLine line{cursor, scan.end, scan.end < range_end ? scan.end + 1 : range_end};
      if (line.end > line.begin && line.end[-1] == '\r') --line.end;
      cursor = line.next;
      if (line.begin == line.end) continue;  // a blank line is not a row
      const bool good = scan.has_quote ? ParseQuotedRow(line, scan, columns, bad_rows)
                                       : ParseRow(line, scan, columns, bad_rows);
      if (good) columns.CommitRow();
    }
    return cursor;
  }

 private:
  LineScan ScanLine(const char* line_begin) {
    LineScan scan;
    const int field_capacity = layout_.field_count;
    uint32_t* ends = field_ends_.data();
    const char* p = line_begin;
    unsigned high = 0;
    unsigned quotes = 0;
#if defined(__SSE2__)
    const __m128i delimiter = _mm_set1_epi8(delimiter_);
    const __m128i newline = _mm_set1_epi8('\n');
    const __m128i quote = _mm_set1_epi8('"');
    alignas(16) char tail[16];
    while (true) {
      const char* block = p;
      if (readable_end_ - p < 16) {  // the end of the file: no 16 bytes to load in place
        if (p >= readable_end_) {
          scan.end = readable_end_;
          break;
        }
        std::memset(tail, '\n', sizeof(tail));
        std::memcpy(tail, p, static_cast<size_t>(readable_end_ - p));
        block = tail;
      }
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block));
      unsigned delimiters = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, delimiter)));
      const unsigned newlines = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, newline)));
      unsigned block_quotes = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, quote)));
      unsigned block_high = static_cast<unsigned>(_mm_movemask_epi8(bytes));
      if (newlines != 0) {  // only bytes before the line end count
        const unsigned before = (newlines & (0u - newlines)) - 1;
        delimiters &= before;
        block_quotes &= before;
        block_high &= before;
      }
      quotes |= block_quotes;
      high |= block_high;
      const uint32_t offset = static_cast<uint32_t>(p - line_begin);
      while (delimiters != 0) {
        if (scan.delimiters < field_capacity) {
          ends[scan.delimiters] = offset + static_cast<uint32_t>(__builtin_ctz(delimiters));
        }
        ++scan.delimiters;
        delimiters &= delimiters - 1;
      }
      if (newlines != 0) {
        scan.end = p + __builtin_ctz(newlines);
        if (scan.end > readable_end_) scan.end = readable_end_;
        break;
      }
      p += 16;
    }
#else
    for (; p < readable_end_ && *p != '\n'; ++p) {
      const unsigned char c = static_cast<unsigned char>(*p);
      high |= c & 0x80;
      quotes |= c == '"';
      if (c == static_cast<unsigned char>(delimiter_)) {
        if (scan.delimiters < field_capacity) ends[scan.delimiters] = static_cast<uint32_t>(p - line_begin);
        ++scan.delimiters;
      }
    }
    scan.end = p;
#endif
    scan.has_quote = quotes != 0;
    scan.has_high_bytes = high != 0;
    return scan;
  }

  // A line without quotes: its fields lie between the delimiters the scan found.
  bool ParseRow(const TextLine& line, const LineScan& scan, ColumnBuffers& columns,
                BadRows& bad_rows) {
    const int field_count = layout_.field_count;
    if (scan.delimiters + 1 != field_count) {
      return BadFieldCount(line, bad_rows, scan.delimiters + 1);
    }
    const char* begin = line.begin;
    for (int field = 0; field < field_count; ++field) {
      const char* end = field + 1 < field_count ? line.begin + field_ends_[field] : line.end;
      const int column = layout_.targets[field];
      if (column >= 0 && !SetValue(column, begin, end, false, scan.has_high_bytes, columns)) {
        bad_rows.Report(line.begin, line.end, specs_[column].name, reason_);
        return false;
      }
      begin = end + 1;
    }
    return true;
  }

  // A line with a quote somewhere: fields one by one, unquoting where a field starts with '"'.
  bool ParseQuotedRow(const TextLine& line, const LineScan& scan, ColumnBuffers& columns,
                      BadRows& bad_rows) {
    const char* p = line.begin;
    const char* const end = line.end;
    const char delimiter = delimiter_;
    const int field_count = layout_.field_count;
    for (int field = 0; field < field_count; ++field) {
      const int column = layout_.targets[field];
      const char* value_begin = p;
      const char* value_end;
      bool quoted = false;
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
      } else {
        while (p < end && *p != delimiter) ++p;
        value_end = p;
      }
      if (column >= 0 &&
          !SetValue(column, value_begin, value_end, quoted, scan.has_high_bytes, columns)) {
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

  // `maybe_non_ascii`: false when the field is known to be ASCII (no UTF-8 check needed).
  bool SetValue(int column, const char* begin, const char* end, bool quoted, bool maybe_non_ascii,
                ColumnBuffers& columns) {
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

  bool BadFieldCount(const TextLine& line, BadRows& bad_rows, int count = -1) {
    if (count < 0) count = CountCsvFields(line.begin, line.end, delimiter_);
    bad_rows.Report(line.begin, line.end, {},
                    "expected " + std::to_string(layout_.field_count) + " fields, got " +
                        std::to_string(count));
    return false;
  }

  std::vector<ColumnSpec> specs_;
  CsvLayout layout_;
  char delimiter_;
  const char* readable_end_;
  std::vector<uint32_t> field_ends_;  // offsets of the delimiters of the line being parsed
  std::string quoted_text_;
  std::string reason_;
};

}  // namespace

std::unique_ptr<TextRowReader> MakeCsvReader(std::vector<ColumnSpec> specs, CsvLayout layout,
                                             char delimiter, const char* readable_end) {
  return std::make_unique<CsvReader>(std::move(specs), std::move(layout), delimiter, readable_end);
}

}  // namespace millstream
