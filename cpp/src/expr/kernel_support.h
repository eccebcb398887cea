// What hand-written kernels share: scalar-or-array operands, validity bitmaps, output
// allocation, and calls into Arrow's own compute functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/compute/api.h>
#include <arrow/datum.h>
#include <arrow/scalar.h>

namespace millstream::expr {

// Arrow >= 21 registers its compute functions on demand; runs arrow::compute::Initialize() once.
void EnsureComputeInitialized();

arrow::MemoryPool* Pool();

// The build targets plain x86-64 (SSE2). The hottest loops are also compiled for AVX-512
// (F, BW, VL, DQ: 64-bit multiplies, mask registers, compress) and picked at run time:
//   if (HasAvx512()) LoopAvx512(...); else Loop(...);
// where both are instantiations of one template body, one marked MS_TARGET_AVX512.
bool HasAvx512();
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MS_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,popcnt")))
#define MS_HAVE_AVX512_BUILD 1
#else
#define MS_TARGET_AVX512
#define MS_HAVE_AVX512_BUILD 0
#endif

// An uninitialised buffer of `bytes` bytes (padded by Arrow); throws on out-of-memory.
std::shared_ptr<arrow::Buffer> AllocateBytes(int64_t bytes);

// A zero-filled bitmap of `bits` bits.
std::shared_ptr<arrow::Buffer> AllocateBitmap(int64_t bits);

// The validity bitmap of `array` starting at bit 0 (sliced without a copy when the offset is a
// multiple of 8), or nullptr when the array has no nulls.
std::shared_ptr<arrow::Buffer> ValidityAtZero(const arrow::ArrayData& array);

// The validity of a row-wise operation over `args` (Arrays of num_rows, or valid Scalars): the
// AND of the arrays' validity bitmaps, or nullptr when none has nulls. Null scalars are the
// caller's business (the usual answer is a null result).
std::shared_ptr<arrow::Buffer> CombinedValidity(const std::vector<arrow::Datum>& args, int64_t num_rows);

bool IsNullScalar(const arrow::Datum& value);
bool AnyNullScalar(const std::vector<arrow::Datum>& args);

// A Datum as an Array of num_rows (a scalar is repeated).
std::shared_ptr<arrow::Array> ToArray(const arrow::Datum& value, int64_t num_rows);

// An array over freshly computed buffers; the null count is counted when first asked.
std::shared_ptr<arrow::Array> MakeArray(std::shared_ptr<arrow::DataType> type, int64_t length,
                                        std::shared_ptr<arrow::Buffer> validity,
                                        std::shared_ptr<arrow::Buffer> values);

// The same buffers seen as another type of the same layout (int64 <-> timestamp): no copy.
arrow::Datum Reinterpret(const arrow::Datum& value, const std::shared_ptr<arrow::DataType>& type);

// Values of a fixed-width column or constant, for loops that read both the same way.
template <typename T>
struct ArrayOperand {
  const T* values;
  T operator[](int64_t i) const { return values[i]; }
};
template <typename T>
struct ScalarOperand {
  T value;
  T operator[](int64_t) const { return value; }
};

template <typename T>
T ScalarValue(const arrow::Scalar& scalar) {
  return *static_cast<const T*>(static_cast<const arrow::internal::PrimitiveScalarBase&>(scalar).data());
}

template <typename T>
const T* ArrayValues(const arrow::Datum& value) {
  return value.array()->GetValues<T>(1);
}

// Calls `body(left_operand, right_operand)` with ArrayOperand/ScalarOperand for each side (at
// least one side is an array), so one loop body compiles into tight array-array and
// array-scalar loops.
template <typename L, typename R, typename Body>
void DispatchOperands(const arrow::Datum& left, const arrow::Datum& right, Body&& body) {
  if (left.is_array() && right.is_array()) {
    body(ArrayOperand<L>{ArrayValues<L>(left)}, ArrayOperand<R>{ArrayValues<R>(right)});
  } else if (left.is_array()) {
    body(ArrayOperand<L>{ArrayValues<L>(left)}, ScalarOperand<R>{ScalarValue<R>(*right.scalar())});
  } else {
    body(ScalarOperand<L>{ScalarValue<L>(*left.scalar())}, ArrayOperand<R>{ArrayValues<R>(right)});
  }
}

// DispatchOperands over numeric operands typed int64_t or double (each side as its column is):
// calls `body(left_operand, right_operand)` for the pair of types the two sides have.
template <typename Body>
void DispatchNumeric(const arrow::Datum& left, const arrow::Datum& right, Body&& body) {
  const bool left_float = left.type()->id() == arrow::Type::DOUBLE;
  const bool right_float = right.type()->id() == arrow::Type::DOUBLE;
  if (left_float && right_float) {
    DispatchOperands<double, double>(left, right, body);
  } else if (left_float) {
    DispatchOperands<double, int64_t>(left, right, body);
  } else if (right_float) {
    DispatchOperands<int64_t, double>(left, right, body);
  } else {
    DispatchOperands<int64_t, int64_t>(left, right, body);
  }
}

// Calls an Arrow compute function; a failure is a millstream bug (InternalError).
arrow::Datum CallArrow(const std::string& function, const std::vector<arrow::Datum>& args,
                       const arrow::compute::FunctionOptions* options = nullptr);

// Calls an Arrow compute function whose failure is about the data (a string that is no number):
// throws UserError "<context>: <Arrow's message>".
arrow::Datum CallArrowOnUserData(const std::string& function, const std::vector<arrow::Datum>& args,
                                 const arrow::compute::FunctionOptions* options,
                                 const std::string& context);

}  // namespace millstream::expr
