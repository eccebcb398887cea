// add sub mul truediv floordiv mod neg. Hand-written: Arrow's integer divide truncates and
// fails on a zero divisor, where Python floors and we want null; and one loop per type pair
// reads int64 and float64 operands as they are, without a converted copy of the int side.
// An int64 result that does not fit is an error naming the expression (expr/integer_overflow.h):
// the loops compute wrapping, then one branch-free pass over the operands finds any overflow.
#include <cmath>
#include <limits>

#include <arrow/util/bitmap_generate.h>
#include <arrow/util/bitmap_ops.h>

#include "core/error.h"
#include "core/types.h"
#include "expr/function_registry.h"
#include "expr/integer_overflow.h"
#include "expr/kernel_support.h"
#include "expr/type_rules.h"

namespace millstream::expr {

namespace {

// --- element operations ---------------------------------------------------------------------

// Each integer operation says whether its wrapped result r of a and b overflowed, and its symbol.
struct AddOp {
  int64_t operator()(int64_t a, int64_t b) const { return WrapAdd(a, b); }
  double operator()(double a, double b) const { return a + b; }
  static bool Overflowed(int64_t a, int64_t b, int64_t r) { return AddOverflowed(a, b, r); }
  static constexpr const char* kSymbol = " + ";
};
struct SubOp {
  int64_t operator()(int64_t a, int64_t b) const { return WrapSub(a, b); }
  double operator()(double a, double b) const { return a - b; }
  static bool Overflowed(int64_t a, int64_t b, int64_t r) { return SubOverflowed(a, b, r); }
  static constexpr const char* kSymbol = " - ";
};
struct MulOp {
  int64_t operator()(int64_t a, int64_t b) const { return WrapMul(a, b); }
  double operator()(double a, double b) const { return a * b; }
  static bool Overflowed(int64_t a, int64_t b, int64_t) { return MulOverflows(a, b); }
  static constexpr const char* kSymbol = " * ";
};
struct TrueDivOp {
  double operator()(double a, double b) const { return a / b; }
};

// Python's floor division; the caller masks b == 0 as null. INT64_MIN // -1 wraps to INT64_MIN
// (FloorDivOp::Overflowed rejects it).
inline int64_t FloorDivInt(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return WrapSub(0, a);
  int64_t quotient = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --quotient;
  return quotient;
}
// Python's modulo: the sign of the divisor.
inline int64_t FloorModInt(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  int64_t remainder = a % b;
  if (remainder != 0 && ((remainder < 0) != (b < 0))) remainder += b;
  return remainder;
}

// Python's float divmod (as numpy's npy_divmod): exact for the remainder, floor quotient
// snapped to an integer; a zero divisor follows IEEE: a / 0 = +-inf or nan, a % 0 = nan.
inline void FloorDivModDouble(double a, double b, double* floor_quotient, double* modulus) {
  double mod = std::fmod(a, b);
  if (b == 0) {
    *modulus = mod;
    *floor_quotient = a / b;
    return;
  }
  double div = (a - mod) / b;
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  double floored;
  if (div != 0) {
    floored = std::floor(div);
    if (div - floored > 0.5) floored += 1.0;
  } else {
    floored = std::copysign(0.0, a / b);
  }
  *floor_quotient = floored;
  *modulus = mod;
}

struct FloorDivOp {
  int64_t operator()(int64_t a, int64_t b) const { return FloorDivInt(a, b); }
  static bool Overflowed(int64_t a, int64_t b, int64_t) { return a == INT64_MIN && b == -1; }
  static constexpr const char* kSymbol = " // ";
  double operator()(double a, double b) const {
    double quotient, modulus;
    FloorDivModDouble(a, b, &quotient, &modulus);
    return quotient;
  }
};
struct ModOp {
  int64_t operator()(int64_t a, int64_t b) const { return FloorModInt(a, b); }
  static bool Overflowed(int64_t, int64_t, int64_t) { return false; }
  static constexpr const char* kSymbol = " % ";
  double operator()(double a, double b) const {
    double quotient, modulus;
    FloorDivModDouble(a, b, &quotient, &modulus);
    return modulus;
  }
};

// --- kernels ----------------------------------------------------------------------------------

template <typename Out, typename L, typename R, typename Op>
void BinaryLoop(L l, R r, Out* out, int64_t num_rows, Op op) {
  for (int64_t i = 0; i < num_rows; ++i) out[i] = op(static_cast<Out>(l[i]), static_cast<Out>(r[i]));
}
// The same loop for AVX-512 (vpmullq multiplies int64 lanes; SSE2 has no 64-bit multiply).
template <typename Out, typename L, typename R, typename Op>
MS_TARGET_AVX512 void BinaryLoopAvx512(L l, R r, Out* out, int64_t num_rows, Op op) {
  for (int64_t i = 0; i < num_rows; ++i) out[i] = op(static_cast<Out>(l[i]), static_cast<Out>(r[i]));
}

// out[i] = op(left[i], right[i]) computed in Out (int64_t or double); an int operand of a float
// operation is converted in the loop.
template <typename Out, typename Op>
void ComputeBinary(const arrow::Datum& left, const arrow::Datum& right, Out* out, int64_t num_rows, Op op) {
  bool avx512 = HasAvx512();
  auto loop = [&](auto l, auto r) {
    if (avx512) {
      BinaryLoopAvx512<Out>(l, r, out, num_rows, op);
    } else {
      BinaryLoop<Out>(l, r, out, num_rows, op);
    }
  };
  DispatchNumeric(left, right, loop);
}

template <typename Out, typename Op>
arrow::Datum BinaryKernel(const std::vector<arrow::Datum>& args, int64_t num_rows,
                          const std::shared_ptr<arrow::DataType>& out_type, Op op) {
  if (AnyNullScalar(args)) return arrow::MakeNullScalar(out_type);
  auto values = AllocateBytes(num_rows * static_cast<int64_t>(sizeof(Out)));
  ComputeBinary<Out>(args[0], args[1], values->mutable_data_as<Out>(), num_rows, op);
  return MakeArray(out_type, num_rows, CombinedValidity(args, num_rows), std::move(values));
}

// BinaryKernel over int64 operands, then a UserError naming `expression` if a valid row overflowed.
template <typename Op>
arrow::Datum CheckedIntegerKernel(const std::vector<arrow::Datum>& args, int64_t num_rows, Op op,
                                  const std::string& expression) {
  arrow::Datum result = BinaryKernel<int64_t>(args, num_rows, arrow::int64(), op);
  if (!result.is_array()) return result;
  const int64_t* out = result.array()->GetValues<int64_t>(1);
  DispatchOperands<int64_t, int64_t>(args[0], args[1], [&](auto l, auto r) {
    CheckNoOverflow(
        result.array()->buffers[0], num_rows, [&](int64_t i) { return Op::Overflowed(l[i], r[i], out[i]); },
        [&](int64_t i) { return std::to_string(l[i]) + Op::kSymbol + std::to_string(r[i]); }, expression);
  });
  return result;
}

// Integer floordiv / mod: a zero divisor makes the row null.
template <typename Op>
arrow::Datum IntegerDivisionKernel(const std::vector<arrow::Datum>& args, int64_t num_rows, Op op,
                                   const std::string& expression) {
  const arrow::Datum& divisor = args[1];
  if (divisor.is_scalar() && divisor.scalar()->is_valid && ScalarValue<int64_t>(*divisor.scalar()) == 0) {
    return arrow::MakeNullScalar(arrow::int64());
  }
  arrow::Datum result = CheckedIntegerKernel(args, num_rows, op, expression);
  if (!divisor.is_array() || !result.is_array()) return result;
  const int64_t* divisors = ArrayValues<int64_t>(divisor);
  bool any_zero = false;
  for (int64_t i = 0; i < num_rows; ++i) any_zero |= divisors[i] == 0;
  if (!any_zero) return result;
  auto nonzero = AllocateBitmap(num_rows);
  int64_t row = 0;
  arrow::internal::GenerateBitsUnrolled(nonzero->mutable_data(), 0, num_rows,
                                        [&] { return divisors[row++] != 0; });
  std::shared_ptr<arrow::ArrayData> data = result.array()->Copy();
  if (data->buffers[0]) {
    arrow::internal::BitmapAnd(data->buffers[0]->data(), 0, nonzero->data(), 0, num_rows, 0,
                               nonzero->mutable_data());
  }
  data->buffers[0] = std::move(nonzero);
  data->null_count = arrow::kUnknownNullCount;
  return data;
}

// timestamp + milliseconds: the integer is scaled to the timestamp's unit; a time beyond int64
// of its unit is an overflow.
arrow::Datum TimestampShiftKernel(const std::vector<arrow::Datum>& args, int64_t num_rows,
                                  const std::shared_ptr<arrow::DataType>& timestamp_type,
                                  size_t timestamp_arg, int64_t units_per_ms, bool subtract,
                                  const std::string& expression) {
  const arrow::Datum& timestamps = args[timestamp_arg];
  const arrow::Datum& milliseconds = args[1 - timestamp_arg];
  std::vector<arrow::Datum> raw = {Reinterpret(timestamps, arrow::int64()), milliseconds};
  arrow::Datum shifted = BinaryKernel<int64_t>(raw, num_rows, arrow::int64(),
      [units_per_ms, subtract](int64_t t, int64_t ms) {
        int64_t delta = WrapMul(ms, units_per_ms);
        return subtract ? WrapSub(t, delta) : WrapAdd(t, delta);
      });
  if (!shifted.is_array()) return Reinterpret(shifted, timestamp_type);
  DispatchOperands<int64_t, int64_t>(raw[0], raw[1], [&](auto t, auto ms) {
    auto overflowed = [&](int64_t i) {
      int64_t delta, moved;
      return __builtin_mul_overflow(ms[i], units_per_ms, &delta) ||
             (subtract ? __builtin_sub_overflow(t[i], delta, &moved) : __builtin_add_overflow(t[i], delta, &moved));
    };
    auto describe = [&](int64_t i) {
      const char* unit = units_per_ms == 1 ? " ms" : units_per_ms == 1000 ? " us" : " ns";
      return "time " + std::to_string(t[i]) + unit + (subtract ? " - " : " + ") + std::to_string(ms[i]) + " ms";
    };
    CheckNoOverflow(shifted.array()->buffers[0], num_rows, overflowed, describe, expression,
                    "filter rows with such times out first, or use a coarser timestamp unit");
  });
  return Reinterpret(shifted, timestamp_type);
}

// --- resolvers --------------------------------------------------------------------------------

std::vector<std::shared_ptr<arrow::DataType>> NumericArgumentTypes(const CallSite& call,
                                                                   const std::shared_ptr<arrow::DataType>& result) {
  std::vector<std::shared_ptr<arrow::DataType>> types;
  for (const auto& arg : call.args()) {
    types.push_back(KindOf(*arg.type) == TypeKind::kNull ? result : ComputeType(arg.type));
  }
  return types;
}

ResolvedCall NullResult() {
  return ResolvedCall{arrow::null(),
                      [](const std::vector<arrow::Datum>&, int64_t) -> arrow::Datum {
                        return arrow::MakeNullScalar(arrow::null());
                      },
                      {}, {}};
}

// timestamp +/- integer milliseconds; nullopt if neither side is a timestamp.
std::optional<ResolvedCall> ResolveTimestampShift(const CallSite& call, bool subtract) {
  TypeKind left = KindOf(*call.arg(0).type);
  TypeKind right = KindOf(*call.arg(1).type);
  if (left != TypeKind::kTimestamp && right != TypeKind::kTimestamp) return std::nullopt;
  if (left == TypeKind::kTimestamp && right == TypeKind::kTimestamp) {
    call.FailTypes(subtract ? "subtracting timestamps is not supported; use .dt.epoch(unit=\"ms\") "
                              "on both sides and subtract the integers"
                            : "timestamps cannot be added");
  }
  size_t timestamp_arg = left == TypeKind::kTimestamp ? 0 : 1;
  TypeKind other = timestamp_arg == 0 ? right : left;
  if ((other != TypeKind::kInteger && other != TypeKind::kNull) || (subtract && timestamp_arg == 1)) {
    call.FailTypes("a timestamp can be shifted by an integer number of milliseconds "
                   "(timestamp + int, int + timestamp, timestamp - int)");
  }
  auto timestamp_type = call.arg(timestamp_arg).type;
  auto unit = static_cast<const arrow::TimestampType&>(*timestamp_type).unit();
  if (unit == arrow::TimeUnit::SECOND) {
    call.FailTypes("milliseconds cannot be added to a timestamp[s]; cast it to timestamp[ms] first");
  }
  int64_t units_per_ms = TimestampUnitsPerMs(unit);
  ResolvedCall resolved;
  resolved.output_type = timestamp_type;
  resolved.argument_types = {nullptr, nullptr};
  resolved.argument_types[1 - timestamp_arg] = arrow::int64();
  resolved.kernel = [timestamp_type, timestamp_arg, units_per_ms, subtract, text = call.text()](
                        const std::vector<arrow::Datum>& args, int64_t num_rows) {
    return TimestampShiftKernel(args, num_rows, timestamp_type, timestamp_arg, units_per_ms, subtract, text);
  };
  return resolved;
}

// a <op> b over numbers: int64 if both are integers (`int64_kernel`), else float64 (`op` in
// BinaryKernel); null if both are null.
template <typename Op>
ResolvedCall ResolveNumeric(const CallSite& call, Op op, Kernel int64_kernel) {
  auto result = ArithmeticType(*call.arg(0).type, *call.arg(1).type);
  if (!result) call.FailTypes();
  if (result->id() == arrow::Type::NA) return NullResult();
  ResolvedCall resolved;
  resolved.output_type = result;
  resolved.argument_types = NumericArgumentTypes(call, result);
  if (result->id() == arrow::Type::INT64) {
    resolved.kernel = std::move(int64_kernel);
  } else {
    resolved.kernel = [op](const std::vector<arrow::Datum>& args, int64_t num_rows) {
      return BinaryKernel<double>(args, num_rows, arrow::float64(), op);
    };
  }
  return resolved;
}

template <typename Op>
Resolver SameTypeArithmetic(Op op, bool subtract, bool allow_timestamps) {
  return [op, subtract, allow_timestamps](const CallSite& call) {
    call.ExpectArgCount(2);
    if (allow_timestamps) {
      if (auto shifted = ResolveTimestampShift(call, subtract)) return *shifted;
    }
    return ResolveNumeric(call, op, [op, text = call.text()](const std::vector<arrow::Datum>& args, int64_t num_rows) {
      return CheckedIntegerKernel(args, num_rows, op, text);
    });
  };
}

ResolvedCall ResolveTrueDiv(const CallSite& call) {
  call.ExpectArgCount(2);
  auto result = ArithmeticType(*call.arg(0).type, *call.arg(1).type);
  if (!result) call.FailTypes();
  ResolvedCall resolved;
  resolved.output_type = arrow::float64();
  resolved.argument_types = NumericArgumentTypes(call, result->id() == arrow::Type::NA ? arrow::float64() : result);
  resolved.kernel = [](const std::vector<arrow::Datum>& args, int64_t num_rows) {
    return BinaryKernel<double>(args, num_rows, arrow::float64(), TrueDivOp());
  };
  return resolved;
}

template <typename Op>
Resolver FloorDivision(Op op) {
  return [op](const CallSite& call) {
    call.ExpectArgCount(2);
    return ResolveNumeric(call, op, [op, text = call.text()](const std::vector<arrow::Datum>& args, int64_t num_rows) {
      return IntegerDivisionKernel(args, num_rows, op, text);
    });
  };
}

ResolvedCall ResolveNeg(const CallSite& call) {
  call.ExpectArgCount(1);
  TypeKind kind = KindOf(*call.arg(0).type);
  if (kind == TypeKind::kNull) return NullResult();
  if (!IsNumeric(kind)) call.FailTypes();
  ResolvedCall resolved;
  resolved.output_type = ComputeType(call.arg(0).type);
  resolved.argument_types = {resolved.output_type};
  if (resolved.output_type->id() == arrow::Type::DOUBLE) {
    resolved.kernel = [](const std::vector<arrow::Datum>& args, int64_t) { return CallArrow("negate", args); };
    return resolved;
  }
  // -INT64_MIN is the one int64 negation that overflows.
  resolved.kernel = [text = call.text()](const std::vector<arrow::Datum>& args, int64_t num_rows) {
    const int64_t* values = ArrayValues<int64_t>(args[0]);
    auto buffer = AllocateBytes(num_rows * 8);
    int64_t* out = buffer->mutable_data_as<int64_t>();
    for (int64_t i = 0; i < num_rows; ++i) out[i] = WrapSub(0, values[i]);
    auto validity = ValidityAtZero(*args[0].array());
    CheckNoOverflow(validity, num_rows, [&](int64_t i) { return values[i] == INT64_MIN; },
                    [&](int64_t i) { return "-(" + std::to_string(values[i]) + ")"; }, text);
    return arrow::Datum(MakeArray(arrow::int64(), num_rows, std::move(validity), std::move(buffer)));
  };
  return resolved;
}

}  // namespace

void RegisterArithmeticFunctions(FunctionRegistry& registry) {
  registry.Add("add", "a + b. int64 if both are integers (an overflow is an error), else float64; "
               "timestamp + int adds milliseconds.", SameTypeArithmetic(AddOp(), false, true));
  registry.Add("sub", "a - b, typed as add; timestamp - int subtracts milliseconds.",
               SameTypeArithmetic(SubOp(), true, true));
  registry.Add("mul", "a * b, typed as add (no timestamps).", SameTypeArithmetic(MulOp(), false, false));
  registry.Add("truediv", "a / b, always float64 (IEEE: x / 0 is +-inf or nan).", ResolveTrueDiv);
  registry.Add("floordiv", "a // b with Python's flooring; an integer division by zero is null, "
               "floats follow IEEE.", FloorDivision(FloorDivOp()));
  registry.Add("mod", "a % b with Python's sign (that of b); an integer modulo by zero is null, "
               "a float one nan.", FloorDivision(ModOp()));
  registry.Add("neg", "-a (-INT64_MIN is an overflow error).", ResolveNeg);
}

}  // namespace millstream::expr
