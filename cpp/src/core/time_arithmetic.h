// Event-time arithmetic that cannot overflow: the range of times and durations the engine
// represents, the checks that keep input inside it, and the saturating operations for what is
// left (the sentinels kMinWatermarkMs / kFinalWatermarkMs, ends near the range's edge).
//
// Why a range narrower than int64: a window end is a time plus a size, a firing bound a time
// plus a size plus an allowed lateness, a watermark a time minus a delay. With every time and
// every duration within 2^61 ms (~73 million years either side of 1970), any sum of three of
// them stays inside int64, so no window loop steps past INT64_MAX and wraps; and every window
// end stays below the final watermark, so every window fires at the end of the input. Times
// outside the range (a 2^63-1 sentinel, timestamp[s] near its limits) are bad input.
//
// Example:
//   CheckDuration(size_ms, "window aggregation (tumbling)", "window size");  // UserError if too big
//   if (!IsEventTimeMs(t)) ...;                      // reject the row
//   SaturatingAdd(end_ms, allowed_lateness_ms);      // never wraps
#pragma once

#include <cstdint>
#include <string>

#include "core/batch.h"
#include "core/error.h"

namespace millstream {

constexpr int64_t kMaxEventTimeMs = (int64_t{1} << 61) - 1;
constexpr int64_t kMinEventTimeMs = -kMaxEventTimeMs;
constexpr int64_t kMaxDurationMs = int64_t{1} << 61;

inline bool IsEventTimeMs(int64_t time_ms) {
  return time_ms >= kMinEventTimeMs && time_ms <= kMaxEventTimeMs;
}

// floor(a / b) for b > 0, also for negative a.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// a + b, a - b and a * b clamped to the int64 range.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

inline int64_t SaturatingSubtract(int64_t a, int64_t b) {
  int64_t difference;
  if (__builtin_sub_overflow(a, b, &difference)) return b < 0 ? INT64_MAX : INT64_MIN;
  return difference;
}

inline int64_t SaturatingMultiply(int64_t a, int64_t b) {
  int64_t product;
  if (__builtin_mul_overflow(a, b, &product)) return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
  return product;
}

// Raw values of a time column in milliseconds, rounding down; `units_per_ms` as
// TimestampUnitsPerMs (1: ms or int64 epoch ms; > 1: finer units; -1000: seconds, saturating,
// so a value under a null slot or a time beyond the range cannot overflow).
inline void TimeValuesToMs(const int64_t* values, int64_t rows, int64_t units_per_ms,
                           int64_t* out_ms) {
  if (units_per_ms == 1) {
    for (int64_t i = 0; i < rows; ++i) out_ms[i] = values[i];
  } else if (units_per_ms > 1) {
    for (int64_t i = 0; i < rows; ++i) out_ms[i] = FloorDiv(values[i], units_per_ms);
  } else {
    for (int64_t i = 0; i < rows; ++i) out_ms[i] = SaturatingMultiply(values[i], -units_per_ms);
  }
}

// A UserError for a time outside the range: what it is, where (`where`: the operator, column and
// row), and what to do.
[[noreturn]] inline void ThrowTimeOutOfRange(int64_t time_ms, const std::string& where) {
  throw UserError(where + " holds an event time of " + std::to_string(time_ms) +
                  " ms, outside the times the engine represents (within +-" +
                  std::to_string(kMaxEventTimeMs) +
                  " ms of 1970, ~73 million years); filter such rows out (or replace sentinel "
                  "values) before with_watermark / window");
}

// Throws ThrowTimeOutOfRange for the first time outside the range; `where` names the column
// (the row is added).
inline void CheckEventTimes(const int64_t* times_ms, int64_t rows, const std::string& where) {
  bool outside = false;
  for (int64_t i = 0; i < rows; ++i) outside |= !IsEventTimeMs(times_ms[i]);
  if (!outside) return;
  for (int64_t i = 0; i < rows; ++i) {
    if (!IsEventTimeMs(times_ms[i])) {
      ThrowTimeOutOfRange(times_ms[i], where + " at row " + std::to_string(i) + " of a batch");
    }
  }
}

// Checks a duration of a plan (window size, slide, gap, offset, allowed lateness, max_delay):
// a UserError naming the operator and the duration if it is beyond kMaxDurationMs.
inline void CheckDuration(int64_t duration_ms, const std::string& operator_name,
                          const std::string& what) {
  if (duration_ms > kMaxDurationMs || duration_ms < -kMaxDurationMs) {
    throw UserError(operator_name + ": " + what + " of " + std::to_string(duration_ms) +
                    " ms is beyond the durations the engine represents (at most " +
                    std::to_string(kMaxDurationMs) + " ms, ~73 million years)");
  }
}

}  // namespace millstream
