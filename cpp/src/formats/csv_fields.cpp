#include "formats/csv_fields.h"

#include <cstring>

namespace millstream {

const char* const kUnterminatedQuoteReason =
    "unterminated quoted field (a quoted field must end on its line: newlines inside quoted "
    "fields are not supported)";

const char* ReadQuotedField(const char* p, const char* end, char delimiter, std::string* text,
                            const char** after) {
  ++p;  // the opening quote
  while (true) {
    const char* quote =
        static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(end - p)));
    if (quote == nullptr) {
      *after = end;
      return kUnterminatedQuoteReason;
    }
    text->append(p, quote);
    if (quote + 1 < end && quote[1] == '"') {  // "" is one quote
      text->push_back('"');
      p = quote + 2;
      continue;
    }
    *after = quote + 1;
    if (*after < end && **after != delimiter) {
      return "unexpected text after the closing quote of a quoted field";
    }
    return nullptr;
  }
}

const char* SplitCsvLine(const char* begin, const char* end, char delimiter,
                         std::vector<std::string>* fields) {
  fields->clear();
  const char* p = begin;
  while (true) {
    std::string& field = fields->emplace_back();
    if (p < end && *p == '"') {
      const char* after = nullptr;
      if (const char* reason = ReadQuotedField(p, end, delimiter, &field, &after)) return reason;
      p = after;
    } else {
      const char* stop = p;
      while (stop < end && *stop != delimiter) ++stop;
      field.assign(p, stop);
      p = stop;
    }
    if (p >= end) return nullptr;
    ++p;  // the delimiter
  }
}

int CountCsvFields(const char* begin, const char* end, char delimiter) {
  int count = 1;
  const char* p = begin;
  while (true) {
    if (p < end && *p == '"') {  // a quote opens a quoted field only at the field's start
      for (++p; p < end; ++p) {
        if (*p == '"') {
          if (p + 1 < end && p[1] == '"') {
            ++p;
          } else {
            ++p;
            break;
          }
        }
      }
    }
    while (p < end && *p != delimiter) ++p;
    if (p >= end) return count;
    ++count;
    ++p;
  }
}

}  // namespace millstream
