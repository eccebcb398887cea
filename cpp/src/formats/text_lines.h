// Lines of a text file as the readers see them: '\n' ends a line, a '\r' before it is part of
// the line end (CRLF files), the last line may lack its '\n', and a UTF-8 byte-order mark at
// the start of a file is not data.
#pragma once

#include <cstring>

namespace millstream {

struct TextLine {
  const char* begin;    // first byte of the line
  const char* end;      // one past the last content byte (before "\r\n" or "\n")
  const char* next;     // start of the next line
};

// The line starting at `cursor` (cursor < range_end).
inline TextLine NextLine(const char* cursor, const char* range_end) {
  const char* newline =
      static_cast<const char*>(std::memchr(cursor, '\n', static_cast<size_t>(range_end - cursor)));
  TextLine line;
  line.begin = cursor;
  if (newline == nullptr) {
    line.end = range_end;
    line.next = range_end;
  } else {
    line.end = newline;
    line.next = newline + 1;
  }
  if (line.end > line.begin && line.end[-1] == '\r') --line.end;
  return line;
}

// Bytes of a UTF-8 byte-order mark at the start of `data`, or 0.
inline size_t ByteOrderMarkLength(const char* data, size_t size) {
  return size >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

// A line of spaces and tabs only (JSON Lines: not a row).
inline bool IsBlank(const char* begin, const char* end) {
  for (const char* p = begin; p < end; ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\r') return false;
  }
  return true;
}

}  // namespace millstream
