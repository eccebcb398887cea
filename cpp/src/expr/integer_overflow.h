// The one rule for integer results that do not fit int64: an error, never a wrapped or clamped
// value (DuckDB's rule: "Overflow in multiplication of INT64"; polars wraps silently in its
// release builds, which is the data loss issue 20 reports). It covers + - * // and neg on
// int64, timestamp +/- milliseconds, dt.epoch to a finer unit and dt.truncate near the int64
// edge. The error is a UserError naming the expression, the row of the batch and the operands,
// and saying what to do (compute in float64, or filter the rows out first). A row under a null
// slot never raises: its value is whatever the buffer held.
//
// Example (a kernel):
//   ... compute out[i] = a[i] * b[i] wrapping ...
//   CheckNoOverflow(validity, num_rows, [&](int64_t i) { return MulOverflows(a[i], b[i]); },
//                   [&](int64_t i) { return std::to_string(a[i]) + " * " + std::to_string(b[i]); },
//                   expression_text, kFloatHint);
#pragma once

#include <cstdint>
#include <string>

#include <arrow/buffer.h>
#include <arrow/util/bit_util.h>

namespace millstream::expr {

// What to do about an overflow of arithmetic; dt functions pass their own.
inline constexpr const char* kIntegerOverflowHint =
    "cast an operand to float64 first (.cast(ms.float64)), or filter such rows out";

// UserError "integer overflow in <expression>: <operation> at row <row> of a batch
// does not fit in int64; <hint>".
[[noreturn]] void ThrowIntegerOverflow(const std::string& expression, int64_t row,
                                       const std::string& operation, const std::string& hint);

// Throws ThrowIntegerOverflow for the first valid row (bit set in `validity`, or every row if it
// is null) where overflowed(row). One branch-free pass first: overflows are rare.
template <typename Overflowed, typename Describe>
void CheckNoOverflow(const std::shared_ptr<arrow::Buffer>& validity, int64_t num_rows,
                     Overflowed overflowed, Describe describe, const std::string& expression,
                     const std::string& hint = kIntegerOverflowHint) {
  bool any = false;
  for (int64_t i = 0; i < num_rows; ++i) any |= overflowed(i);
  if (!any) return;
  for (int64_t i = 0; i < num_rows; ++i) {
    if (overflowed(i) && (!validity || arrow::bit_util::GetBit(validity->data(), i))) {
      ThrowIntegerOverflow(expression, i, describe(i), hint);
    }
  }
}

// Two's complement wrapping, in unsigned arithmetic to stay defined: the loops compute these,
// then CheckNoOverflow rejects every valid row that wrapped.
inline int64_t WrapAdd(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
inline int64_t WrapSub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
inline int64_t WrapMul(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

// Whether r, the wrapped result of a + b (a - b), overflowed: the sign bit tells, no branch.
inline bool AddOverflowed(int64_t a, int64_t b, int64_t r) { return ((a ^ r) & (b ^ r)) < 0; }
inline bool SubOverflowed(int64_t a, int64_t b, int64_t r) { return ((a ^ b) & (a ^ r)) < 0; }
inline bool MulOverflows(int64_t a, int64_t b) {
  int64_t product;
  return __builtin_mul_overflow(a, b, &product);
}

}  // namespace millstream::expr
