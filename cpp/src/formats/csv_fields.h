// Fields of one CSV line (RFC 4180 quoting: "a,b" holds a delimiter, "" is a quote inside
// quotes). Used by the header, schema inference and error paths; the reader's hot loop parses
// fields in place and calls ReadQuotedField only for quoted ones.
//
// Limitation: a quoted field must end on its line. Files are cut into byte ranges at line
// ends so that P workers parse one file in parallel; a split cannot know whether its first
// '\n' is inside quotes without reading everything before it. A line with an unterminated
// quote is therefore bad input (reported as on_error says), whatever the parallelism: the same
// file reads the same way with 1 or P splits.
#pragma once

#include <string>
#include <vector>

namespace millstream {

extern const char* const kUnterminatedQuoteReason;

// Reads the quoted field at `p` (*p == '"') that must end before `end`: appends its text to
// `text` and points `*after` at the byte after the closing quote. Returns nullptr, or the
// reason the field is bad (unterminated, or text between the closing quote and the delimiter).
const char* ReadQuotedField(const char* p, const char* end, char delimiter, std::string* text,
                            const char** after);

// Splits [begin, end) into fields. Returns nullptr, or the reason the line is bad.
const char* SplitCsvLine(const char* begin, const char* end, char delimiter,
                         std::vector<std::string>* fields);

// The number of fields of [begin, end), counting a bad quoted field as one.
int CountCsvFields(const char* begin, const char* end, char delimiter);

}  // namespace millstream
