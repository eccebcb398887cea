// A string as a JSON string literal (RFC 8259 escapes), for every writer of JSON: the JSON Lines
// sink and the plan format's writer.
#pragma once

#include <string>
#include <string_view>

namespace millstream {

// Appends `text` quoted, escaping '"', '\\' and control characters (bytes >= 0x80 pass through:
// the text is UTF-8 already).
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace millstream
