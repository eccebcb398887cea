// What happens to a bad input row, as the user chose with on_error: raise a UserError
// "events.jsonl:17: field 'price': expected float64, got \"abc\"", skip it (counted), or send it
// to the dead-letter output with the same reason. Line numbers are physical (1-based, a CSV
// header is line 1) and are counted only when a bad row needs one, so good input pays nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <arrow/builder.h>

#include "core/bad_input.h"
#include "core/metrics.h"

namespace millstream {

// Rows of DeadLetterSchema(), collected by one split.
class DeadLetterBuilder {
 public:
  DeadLetterBuilder();
  // `field` empty means the row as a whole is bad (the column is null then); `line` < 0: null.
  void Append(std::string_view source, int64_t line, std::string_view field,
              std::string_view reason, std::string_view raw);
  int64_t rows() const { return rows_; }
  BatchPtr Finish();  // null when there are no rows; starts over

 private:
  arrow::StringBuilder source_;
  arrow::Int64Builder line_;
  arrow::StringBuilder field_;
  arrow::StringBuilder reason_;
  arrow::StringBuilder raw_;
  int64_t rows_ = 0;
};

// Bad rows of one stretch of a file's text (a split's range, read into memory), reported by a
// reader in increasing position order.
class BadRows {
 public:
  // `text_begin` is where the text starts in memory; `newlines_before_text` counts the lines of
  // the file before it, called only when a bad row needs its line number.
  BadRows(std::string path, const char* text_begin, std::function<int64_t()> newlines_before_text,
          OnError on_error, OperatorMetrics* metrics, DeadLetterBuilder* dead_letters);

  // [line_begin, line_end) is the row's line without its line end. `field` is the column name,
  // empty when the row as a whole is bad. Throws UserError when on_error is raise.
  void Report(const char* line_begin, const char* line_end, std::string_view field,
              std::string_view reason);

  // The 1-based physical line number of the line starting at `line_begin`.
  int64_t LineNumber(const char* line_begin);

  OnError on_error() const { return on_error_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const char* text_begin_;
  std::function<int64_t()> newlines_before_text_;
  int64_t newlines_before_text_counted_ = -1;  // -1: not counted yet
  OnError on_error_;
  OperatorMetrics* metrics_;
  DeadLetterBuilder* dead_letters_;
  // Newlines are counted forward from the last bad row, so many bad rows cost one pass.
  const char* counted_until_;
  int64_t newlines_before_ = 0;
};

// How a value appears in a message: at most ~60 bytes of it (with "..." when cut), invalid
// UTF-8 replaced by U+FFFD, wrapped in double quotes when `quote` (text fields; JSON tokens come
// with their own quotes).
std::string DescribeValue(std::string_view text, bool quote);

}  // namespace millstream
