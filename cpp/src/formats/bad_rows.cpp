#include "formats/bad_rows.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "formats/utf8.h"

namespace millstream {

namespace {

constexpr size_t kMaxDescribedBytes = 60;

}  // namespace

std::string DescribeValue(std::string_view text, bool quote) {
  bool cut = false;
  if (text.size() > kMaxDescribedBytes) {
    size_t end = kMaxDescribedBytes;
    // Do not cut a UTF-8 sequence in two: back up over continuation bytes.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
    cut = true;
  }
  std::string result = quote ? "\"" : "";
  result += SanitizeUtf8(text);
  if (cut) result += "...";
  if (quote) result += '"';
  return result;
}

DeadLetterBuilder::DeadLetterBuilder() = default;

void DeadLetterBuilder::Append(std::string_view source, int64_t line, std::string_view field,
                               std::string_view reason, std::string_view raw) {
  CheckArrow(source_.Append(SanitizeUtf8(source)), "dead letter source");
  CheckArrow(line >= 0 ? line_.Append(line) : line_.AppendNull(), "dead letter line");
  CheckArrow(field.empty() ? field_.AppendNull() : field_.Append(SanitizeUtf8(field)),
             "dead letter field");
  CheckArrow(reason_.Append(SanitizeUtf8(reason)), "dead letter reason");
  CheckArrow(raw_.Append(SanitizeUtf8(raw)), "dead letter raw");
  ++rows_;
}

BatchPtr DeadLetterBuilder::Finish() {
  if (rows_ == 0) return nullptr;
  std::vector<std::shared_ptr<arrow::Array>> arrays(5);
  CheckArrow(source_.Finish(&arrays[0]), "dead letter source");
  CheckArrow(line_.Finish(&arrays[1]), "dead letter line");
  CheckArrow(field_.Finish(&arrays[2]), "dead letter field");
  CheckArrow(reason_.Finish(&arrays[3]), "dead letter reason");
  CheckArrow(raw_.Finish(&arrays[4]), "dead letter raw");
  BatchPtr batch = arrow::RecordBatch::Make(DeadLetterSchema(), rows_, std::move(arrays));
  rows_ = 0;
  return batch;
}

BadRows::BadRows(std::string path, const char* text_begin,
                 std::function<int64_t()> newlines_before_text, OnError on_error,
                 OperatorMetrics* metrics, DeadLetterBuilder* dead_letters)
    : path_(std::move(path)),
      text_begin_(text_begin),
      newlines_before_text_(std::move(newlines_before_text)),
      on_error_(on_error),
      metrics_(metrics),
      dead_letters_(dead_letters),
      counted_until_(text_begin) {}

int64_t BadRows::LineNumber(const char* line_begin) {
  if (newlines_before_text_counted_ < 0) newlines_before_text_counted_ = newlines_before_text_();
  if (line_begin < counted_until_) {  // not expected (rows come in order), but stay correct
    counted_until_ = text_begin_;
    newlines_before_ = 0;
  }
  newlines_before_ += std::count(counted_until_, line_begin, '\n');
  counted_until_ = line_begin;
  return newlines_before_text_counted_ + newlines_before_ + 1;
}

void BadRows::Report(const char* line_begin, const char* line_end, std::string_view field,
                     std::string_view reason) {
  if (on_error_ == OnError::kSkip) {
    if (metrics_ != nullptr) ++metrics_->rows_skipped;
    return;
  }
  std::string full_reason;
  if (!field.empty()) {
    full_reason = "field '" + std::string(field) + "': ";
  }
  full_reason += reason;
  const int64_t line = LineNumber(line_begin);
  if (on_error_ == OnError::kRaise) {
    throw UserError(path_ + ":" + std::to_string(line) + ": " + SanitizeUtf8(full_reason));
  }
  MS_CHECK(dead_letters_ != nullptr, "dead_letter mode needs a dead-letter builder");
  dead_letters_->Append(path_, line, field, full_reason,
                        std::string_view(line_begin, static_cast<size_t>(line_end - line_begin)));
  if (metrics_ != nullptr) ++metrics_->rows_dead_letter;
}

}  // namespace millstream
