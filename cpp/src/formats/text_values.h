// Typed values from text (CSV fields, JSON strings): the hot path of the CSV reader, hence inline.
// Each parser takes the whole field and accepts it only when all of it is the value.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace millstream {

// Optional sign, then 1..19 decimal digits, within int64.
inline bool ParseInt64Text(const char* begin, const char* end, int64_t* value) {
  const char* p = begin;
  bool negative = false;
  if (p < end && (*p == '-' || *p == '+')) {
    negative = *p == '-';
    ++p;
  }
  const char* digits = p;
  uint64_t magnitude = 0;
  // 18 digits can never overflow: the common case needs no overflow checks.
  const char* fast_end = end - p > 18 ? p + 18 : end;
  while (p < fast_end) {
    const unsigned digit = static_cast<unsigned char>(*p) - '0';
    if (digit > 9) return false;
    magnitude = magnitude * 10 + digit;
    ++p;
  }
  if (p == digits) return false;
  while (p < end) {
    const unsigned digit = static_cast<unsigned char>(*p) - '0';
    if (digit > 9) return false;
    if (__builtin_mul_overflow(magnitude, 10, &magnitude) ||
        __builtin_add_overflow(magnitude, digit, &magnitude)) {
      return false;
    }
    ++p;
  }
  if (negative) {
    if (magnitude > uint64_t{1} << 63) return false;
    *value = static_cast<int64_t>(0 - magnitude);
  } else {
    if (magnitude > static_cast<uint64_t>(INT64_MAX)) return false;
    *value = static_cast<int64_t>(magnitude);
  }
  return true;
}

// Decimal or scientific notation, "inf", "nan" (any case); an optional leading '+'.
inline bool ParseFloat64Text(const char* begin, const char* end, double* value) {
  // Fast path for plain decimals ("-123.25"): with at most 2^53 as the digits' integer and at
  // most 22 fraction digits, both the integer and the power of ten are exact doubles, and one
  // IEEE division rounds the quotient correctly (Clinger's fast path).
  static constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                            1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* p = begin;
  bool negative = false;
  if (p < end && (*p == '-' || *p == '+')) {
    negative = *p == '-';
    ++p;
  }
  uint64_t digits_value = 0;
  int digits = 0;
  int fraction_digits = 0;
  while (p < end && static_cast<unsigned char>(*p - '0') <= 9) {
    digits_value = digits_value * 10 + static_cast<unsigned>(*p - '0');
    ++digits;
    ++p;
  }
  if (p < end && *p == '.') {
    ++p;
    while (p < end && static_cast<unsigned char>(*p - '0') <= 9) {
      digits_value = digits_value * 10 + static_cast<unsigned>(*p - '0');
      ++digits;
      ++fraction_digits;
      ++p;
    }
  }
  if (p == end && digits > 0 && digits <= 19 && digits_value <= (uint64_t{1} << 53) &&
      fraction_digits <= 22) {
    const double magnitude = static_cast<double>(digits_value) / kPowersOfTen[fraction_digits];
    *value = negative ? -magnitude : magnitude;
    return true;
  }
  if (begin < end && *begin == '+') ++begin;
  if (begin == end) return false;
  const auto result = std::from_chars(begin, end, *value);  // exponents, long mantissas, inf, nan
  if (result.ec == std::errc::result_out_of_range && result.ptr == end) {
    // Below the smallest subnormal (1e-400) rounds to zero, as JSON Lines (simdjson) and Python
    // read it; beyond float64 (1e400) stays an error.
    const double rounded = std::strtod(std::string(begin, end).c_str(), nullptr);
    if (std::isinf(rounded)) return false;
    *value = rounded;
    return true;
  }
  return result.ec == std::errc() && result.ptr == end;
}

// true / false in any case.
inline bool ParseBoolText(const char* begin, const char* end, bool* value) {
  const size_t length = static_cast<size_t>(end - begin);
  auto lower_equals = [begin](const char* word, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if ((begin[i] | 0x20) != word[i]) return false;
    }
    return true;
  };
  if (length == 4 && lower_equals("true", 4)) {
    *value = true;
    return true;
  }
  if (length == 5 && lower_equals("false", 5)) {
    *value = false;
    return true;
  }
  return false;
}

}  // namespace millstream
