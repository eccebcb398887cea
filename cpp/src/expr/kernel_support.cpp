#include "expr/kernel_support.h"

#include <cstdlib>
#include <cstring>

#include <arrow/compute/initialize.h>
#include <arrow/util/bitmap_ops.h>

#include "core/error.h"
#include "core/recycling_pool.h"

namespace millstream::expr {

void EnsureComputeInitialized() {
  static const bool initialized = [] {
    CheckArrow(arrow::compute::Initialize(), "arrow::compute::Initialize");
    return true;
  }();
  (void)initialized;
}

arrow::MemoryPool* Pool() { return EnginePool(); }

bool HasAvx512() {
#if MS_HAVE_AVX512_BUILD
  // MILLSTREAM_DISABLE_AVX512=1 forces the portable loops (to test them on an AVX-512 machine).
  static const bool supported = std::getenv("MILLSTREAM_DISABLE_AVX512") == nullptr &&
                                __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                                __builtin_cpu_supports("popcnt");
  return supported;
#else
  return false;
#endif
}

std::shared_ptr<arrow::Buffer> AllocateBytes(int64_t bytes) {
  return CheckArrow(arrow::AllocateBuffer(bytes, Pool()), "allocating an expression result");
}

std::shared_ptr<arrow::Buffer> AllocateBitmap(int64_t bits) {
  return CheckArrow(arrow::AllocateEmptyBitmap(bits, Pool()), "allocating a bitmap");
}

std::shared_ptr<arrow::Buffer> ValidityAtZero(const arrow::ArrayData& array) {
  if (array.buffers.empty() || !array.buffers[0] || array.GetNullCount() == 0) return nullptr;
  const auto& bitmap = array.buffers[0];
  if (array.offset == 0) return bitmap;
  if (array.offset % 8 == 0) return arrow::SliceBuffer(bitmap, array.offset / 8);
  return CheckArrow(arrow::internal::CopyBitmap(Pool(), bitmap->data(), array.offset, array.length),
                    "copying a validity bitmap");
}

std::shared_ptr<arrow::Buffer> CombinedValidity(const std::vector<arrow::Datum>& args, int64_t num_rows) {
  std::shared_ptr<arrow::Buffer> combined;
  for (const auto& arg : args) {
    if (!arg.is_array()) continue;
    const arrow::ArrayData& data = *arg.array();
    if (data.buffers.empty() || !data.buffers[0] || data.GetNullCount() == 0) continue;
    if (!combined) {
      combined = ValidityAtZero(data);
      continue;
    }
    combined = CheckArrow(arrow::internal::BitmapAnd(Pool(), combined->data(), 0,
                                                     data.buffers[0]->data(), data.offset,
                                                     num_rows, 0),
                          "combining validity bitmaps");
  }
  return combined;
}

bool IsNullScalar(const arrow::Datum& value) { return value.is_scalar() && !value.scalar()->is_valid; }

bool AnyNullScalar(const std::vector<arrow::Datum>& args) {
  for (const auto& arg : args) {
    if (IsNullScalar(arg)) return true;
  }
  return false;
}

std::shared_ptr<arrow::Array> ToArray(const arrow::Datum& value, int64_t num_rows) {
  if (value.is_array()) return value.make_array();
  MS_CHECK(value.is_scalar(), "an expression value is an array or a scalar");
  return CheckArrow(arrow::MakeArrayFromScalar(*value.scalar(), num_rows, Pool()),
                    "broadcasting a constant");
}

std::shared_ptr<arrow::Array> MakeArray(std::shared_ptr<arrow::DataType> type, int64_t length,
                                        std::shared_ptr<arrow::Buffer> validity,
                                        std::shared_ptr<arrow::Buffer> values) {
  int64_t null_count = validity ? arrow::kUnknownNullCount : 0;
  return arrow::MakeArray(arrow::ArrayData::Make(std::move(type), length,
                                                 {std::move(validity), std::move(values)}, null_count));
}

arrow::Datum Reinterpret(const arrow::Datum& value, const std::shared_ptr<arrow::DataType>& type) {
  if (value.is_scalar()) {
    const arrow::Scalar& scalar = *value.scalar();
    if (!scalar.is_valid) return arrow::MakeNullScalar(type);
    auto view = static_cast<const arrow::internal::PrimitiveScalarBase&>(scalar).view();
    int64_t raw = 0;
    MS_CHECK(view.size() == sizeof(raw), "reinterpreting a 64-bit constant");
    std::memcpy(&raw, view.data(), sizeof(raw));
    return CheckArrow(arrow::MakeScalar(type, raw), "reinterpreting a constant");
  }
  auto data = value.array()->Copy();
  data->type = type;
  return data;
}

arrow::Datum CallArrow(const std::string& function, const std::vector<arrow::Datum>& args,
                       const arrow::compute::FunctionOptions* options) {
  EnsureComputeInitialized();
  auto result = arrow::compute::CallFunction(function, args, options);
  if (!result.ok()) {
    throw InternalError("internal error (a millstream bug) in Arrow function '" + function +
                        "': " + result.status().ToString());
  }
  return std::move(result).ValueUnsafe();
}

arrow::Datum CallArrowOnUserData(const std::string& function, const std::vector<arrow::Datum>& args,
                                 const arrow::compute::FunctionOptions* options,
                                 const std::string& context) {
  EnsureComputeInitialized();
  auto result = arrow::compute::CallFunction(function, args, options);
  if (!result.ok()) throw UserError(context + ": " + result.status().message());
  return std::move(result).ValueUnsafe();
}

}  // namespace millstream::expr
