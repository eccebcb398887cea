// UTF-8 checks for text input: Arrow string columns must hold valid UTF-8, and messages and
// dead letters quote input that may not be.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace millstream {

// True when the bytes are valid UTF-8 (simdjson's SIMD validator).
bool IsValidUtf8(const char* data, size_t length);

// Length of the valid UTF-8 sequence at text[pos], or 0 when the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF are not valid).
size_t Utf8SequenceLength(std::string_view text, size_t pos);

// `text` with every invalid byte replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view text);

}  // namespace millstream
