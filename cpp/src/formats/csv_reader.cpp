#include "formats/csv_reader.h"

#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/error.h"
#include "formats/csv_record_decoder.h"
#include "formats/text_lines.h"

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
      : delimiter_(delimiter),
        readable_end_(readable_end),
        field_ends_(layout.field_count + 1),
        record_(std::move(specs), std::move(layout.targets), delimiter) {
    MS_CHECK(record_.field_count() == layout.field_count, "one target per field");
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
    const int field_capacity = record_.field_count();
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
    const int field_count = record_.field_count();
    if (scan.delimiters + 1 != field_count) {
      bad_rows.Report(line.begin, line.end, {},
                      record_.FieldCountReason(line.begin, line.end, scan.delimiters + 1));
      return false;
    }
    const std::vector<int>& targets = record_.targets();
    const char* begin = line.begin;
    for (int field = 0; field < field_count; ++field) {
      const char* end = field + 1 < field_count ? line.begin + field_ends_[field] : line.end;
      const int column = targets[field];
      if (column >= 0 && !record_.SetValue(column, begin, end, false, scan.has_high_bytes, columns)) {
        bad_rows.Report(line.begin, line.end, record_.specs()[column].name, record_.reason());
        return false;
      }
      begin = end + 1;
    }
    return true;
  }

  // A line with a quote somewhere: fields one by one (the decoder unquotes them).
  bool ParseQuotedRow(const TextLine& line, const LineScan& scan, ColumnBuffers& columns,
                      BadRows& bad_rows) {
    if (record_.DecodeRecord(line.begin, line.end, scan.has_high_bytes, columns, &problem_)) {
      return true;
    }
    bad_rows.Report(line.begin, line.end, problem_.field, problem_.reason);
    return false;
  }

  char delimiter_;
  const char* readable_end_;
  std::vector<uint32_t> field_ends_;  // offsets of the delimiters of the line being parsed
  CsvRecordDecoder record_;           // the values, shared with Kafka messages
  RowProblem problem_;
};

}  // namespace

std::unique_ptr<TextRowReader> MakeCsvReader(std::vector<ColumnSpec> specs, CsvLayout layout,
                                             char delimiter, const char* readable_end) {
  return std::make_unique<CsvReader>(std::move(specs), std::move(layout), delimiter, readable_end);
}

}  // namespace millstream
