#include <cmath>
#include <limits>

#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Reference: Python semantics computed independently (floor of the exact quotient, which a
// double holds exactly for the small operands used here).
std::optional<int64_t> PythonFloorDiv(int64_t a, int64_t b) {
  if (b == 0) return std::nullopt;
  return static_cast<int64_t>(std::floor(static_cast<double>(a) / static_cast<double>(b)));
}
std::optional<int64_t> PythonMod(int64_t a, int64_t b) {
  if (b == 0) return std::nullopt;
  return a - b * *PythonFloorDiv(a, b);
}

TEST(ArithmeticFunctions, IntegersAgainstReferenceWithNulls) {
  std::mt19937_64 rng(42);
  std::vector<std::optional<int64_t>> a_values, b_values;
  auto a = RandomInt64(rng, 5000, -1000, 1000, 0.1, &a_values);
  auto b = RandomInt64(rng, 5000, -7, 7, 0.1, &b_values);  // many zero divisors
  auto batch = MakeBatch({{"a", a}, {"b", b}});
  struct Case {
    const char* fn;
    std::function<std::optional<int64_t>(int64_t, int64_t)> reference;
  };
  std::vector<Case> cases = {
      {"add", [](int64_t x, int64_t y) { return std::optional<int64_t>(x + y); }},
      {"sub", [](int64_t x, int64_t y) { return std::optional<int64_t>(x - y); }},
      {"mul", [](int64_t x, int64_t y) { return std::optional<int64_t>(x * y); }},
      {"floordiv", PythonFloorDiv},
      {"mod", PythonMod},
  };
  for (const auto& c : cases) {
    auto result = std::static_pointer_cast<arrow::Int64Array>(Eval(Call(c.fn, {Col("a"), Col("b")}), batch));
    ASSERT_TRUE(result->type()->Equals(arrow::int64())) << c.fn;
    int mismatches = 0;
    for (int64_t i = 0; i < batch->num_rows(); ++i) {
      std::optional<int64_t> expected;
      if (a_values[i] && b_values[i]) expected = c.reference(*a_values[i], *b_values[i]);
      std::optional<int64_t> actual;
      if (result->IsValid(i)) actual = result->Value(i);
      if (expected != actual) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0) << c.fn;
  }
}

TEST(ArithmeticFunctions, FloorDivisionAndModuloFollowPython) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[7, -7, 7, -7, 0, 5, null, -9223372036854775808]")},
                          {"b", ArrayOf(arrow::int64(), "[2, 2, -2, -2, 3, 0, 1, -1]")}});
  // INT64_MIN // -1 does not fit in int64: IntegerOverflowIsAnError; here it is under a null.
  auto masked = MakeBatch({{"a", ArrayOf(arrow::int64(), "[7, -7, 7, -7, 0, 5, null, null]")}, {"b", batch->column(1)}});
  auto masked_a = std::static_pointer_cast<arrow::Int64Array>(masked->column(0));
  // The null's value slot still holds INT64_MIN, as a column from a file can.
  const_cast<int64_t*>(masked_a->raw_values())[7] = kMin;
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[3, -4, -4, 3, 0, null, null, null]"),
                      Eval(Call("floordiv", {Col("a"), Col("b")}), masked));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, 1, -1, -1, 0, null, null, 0]"),
                      Eval(Call("mod", {Col("a"), Col("b")}), batch));
  // A constant zero divisor: every row null, not an error.
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[null, null, null, null, null, null, null, null]"),
                      Eval(Call("mod", {Col("a"), Lit(0)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[2, -3, 2, -3, 0, 1, null, -3074457345618258603]"),
                      Eval(Call("floordiv", {Col("a"), Lit(3)}), batch));
  // Constant dividend, column divisor.
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, 1, -1, -1, 1, null, 0, 0]"),
                      Eval(Call("mod", {Lit(7), Col("b")}), batch));
}

TEST(ArithmeticFunctions, FloatFloorDivisionAndModuloMatchNumpy) {
  // Expected values computed with numpy.floor_divide / numpy.mod (= Python's // and % where Python
  // does not raise; a zero divisor follows IEEE).
  auto batch = MakeBatch(
      {{"a", ArrayOf(arrow::float64(), "[7.5, -7.5, 7.5, -7.5, 1.0, -0.0, 0.0, 5.0, -5.0, 0.0, Inf, 3.0, -3.0]")},
       {"b", ArrayOf(arrow::float64(), "[2.0, 2.0, -2.0, -2.0, 0.1, 3.0, -3.0, 0.0, 0.0, 0.0, 2.0, Inf, Inf]")}});
  EXPECT_ARRAYS_EQUAL(
      ArrayOf(arrow::float64(), "[3.0, -4.0, -4.0, 3.0, 9.0, -0.0, -0.0, Inf, -Inf, NaN, NaN, 0.0, -1.0]"),
      Eval(Call("floordiv", {Col("a"), Col("b")}), batch));
  EXPECT_ARRAYS_EQUAL(
      ArrayOf(arrow::float64(),
              "[1.5, 0.5, -0.5, -1.5, 0.09999999999999995, 0.0, -0.0, NaN, NaN, NaN, NaN, 3.0, Inf]"),
      Eval(Call("mod", {Col("a"), Col("b")}), batch));
  auto sign_of_zero = std::static_pointer_cast<arrow::DoubleArray>(Eval(Call("mod", {Col("a"), Col("b")}), batch));
  EXPECT_TRUE(std::signbit(sign_of_zero->Value(6)));   // 0.0 % -3.0 == -0.0
  EXPECT_FALSE(std::signbit(sign_of_zero->Value(5)));  // -0.0 % 3.0 == 0.0
}

TEST(ArithmeticFunctions, TrueDivisionIsAlwaysFloat) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[7, -1, 0, 1, null]")},
                          {"b", ArrayOf(arrow::int64(), "[2, 0, 0, 0, 1]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[3.5, -Inf, NaN, Inf, null]"),
                      Eval(Call("truediv", {Col("a"), Col("b")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[0.5, 0.5, 0.5, 0.5, 0.5]"), Eval(Call("truediv", {Lit(1), Lit(2)}), batch));
}

TEST(ArithmeticFunctions, MixedIntFloatGivesFloat64) {
  auto batch = MakeBatch({{"i", ArrayOf(arrow::int64(), "[1, 2, null, 4]")},
                          {"f", ArrayOf(arrow::float64(), "[0.5, null, 1.5, -2.0]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[1.5, null, null, 2.0]"), Eval(Call("add", {Col("i"), Col("f")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[-0.5, null, null, -6.0]"), Eval(Call("sub", {Col("f"), Col("i")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[2.5, 5.0, null, 10.0]"), Eval(Call("mul", {Col("i"), LitF(2.5)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[2.5, null, 3.5, 0.0]"), Eval(Call("add", {Lit(2), Col("f")}), batch));
}

TEST(ArithmeticFunctions, NarrowTypesWiden) {
  auto batch = MakeBatch({{"i32", ArrayOf(arrow::int32(), "[2147483647, -5, null]")},
                          {"u8", ArrayOf(arrow::uint8(), "[255, 1, 2]")},
                          {"f32", ArrayOf(arrow::float32(), "[0.5, 1.5, null]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[2147483648, -4, null]"), Eval(Call("add", {Col("i32"), Lit(1)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[2147483902, -4, null]"), Eval(Call("add", {Col("i32"), Col("u8")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[255.5, 2.5, null]"), Eval(Call("add", {Col("u8"), Col("f32")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[-2147483647, 5, null]"), Eval(Call("neg", {Col("i32")}), batch));
}

// DuckDB's rule: an int64 result that does not fit is an error naming the expression, the row
// and the operands, never a wrapped value; rows under nulls and results at the very edge pass.
TEST(ArithmeticFunctions, IntegerOverflowIsAnError) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[1, 9223372036854775806, -9223372036854775807, 4611686018427387903]")},
                          {"big", ArrayOf(arrow::int64(), "[1, 9223372036854775807, -9223372036854775808, null]")}});
  // Up to the edge: fine.
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[2, 9223372036854775807, -9223372036854775806, 4611686018427387904]"),
                      Eval(Call("add", {Col("a"), Lit(1)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[0, 9223372036854775805, -9223372036854775808, 4611686018427387902]"),
                      Eval(Call("sub", {Col("a"), Lit(1)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[-1, -9223372036854775806, 9223372036854775807, -4611686018427387903]"),
                      Eval(Call("neg", {Col("a")}), batch));
  struct Case {
    std::string expression;
    std::string operation;  // as the message shows it
    int64_t row;
  };
  std::vector<Case> cases = {
      {Call("add", {Col("big"), Lit(1)}), "9223372036854775807 + 1", 1},
      {Call("sub", {Col("big"), Lit(1)}), "-9223372036854775808 - 1", 2},
      {Call("sub", {Lit(-2), Col("big")}), "-2 - 9223372036854775807", 1},
      {Call("mul", {Col("a"), Lit(2)}), "9223372036854775806 * 2", 1},
      {Call("mul", {Col("big"), Lit(-1)}), "-9223372036854775808 * -1", 2},
      {Call("floordiv", {Col("big"), Lit(-1)}), "-9223372036854775808 // -1", 2},
      {Call("neg", {Col("big")}), "-(-9223372036854775808)", 2},
      {Call("add", {Col("a"), Col("big")}), "9223372036854775806 + 9223372036854775807", 1},
  };
  auto schema = batch->schema();
  for (const auto& c : cases) {
    auto compiled = CompileExpression(c.expression, *schema);
    std::string message = ErrorMessage<UserError>([&] { compiled->Evaluate(*batch); });
    EXPECT_NE(message.find("integer overflow in "), std::string::npos) << c.expression << ": " << message;
    EXPECT_NE(message.find(c.operation + " at row " + std::to_string(c.row) + " of a batch"), std::string::npos)
        << c.expression << ": " << message;
    EXPECT_NE(message.find("col(\""), std::string::npos) << message;
    EXPECT_NE(message.find(".cast(ms.float64)"), std::string::npos) << message;
  }
  // In float64 the same values compute.
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[2, 1.8446744073709552e19, -1.8446744073709552e19, null]"),
                      Eval(Call("mul", {Col("big"), LitF(2)}), batch));
  // Over constants the error comes when the expression is compiled.
  std::string message = ErrorMessage<UserError>([&] { CompileExpression(Call("mul", {Lit(kMax), Lit(2)}), *schema); });
  EXPECT_NE(message.find("9223372036854775807 * 2"), std::string::npos) << message;
  (void)kMin;
}

// A random mix of large operands against the exact result (__int128): every overflow is found,
// nothing else is.
TEST(ArithmeticFunctions, OverflowCheckAgainstWideReference) {
  std::mt19937_64 rng(7);
  for (const char* fn : {"add", "sub", "mul"}) {
    for (int round = 0; round < 200; ++round) {
      std::vector<std::optional<int64_t>> a_values, b_values;
      int64_t bound = std::string(fn) == "mul" ? (int64_t{1} << (20 + round % 24)) : kMax / 2 + round;
      auto a = RandomInt64(rng, 64, -bound, bound, 0.2, &a_values);
      auto b = RandomInt64(rng, 64, -bound, bound, 0.2, &b_values);
      auto batch = MakeBatch({{"a", a}, {"b", b}});
      int64_t first_overflow = -1;
      for (int64_t i = 0; i < 64 && first_overflow < 0; ++i) {
        if (!a_values[i] || !b_values[i]) continue;
        __int128 x = *a_values[i], y = *b_values[i];
        __int128 exact = std::string(fn) == "add" ? x + y : std::string(fn) == "sub" ? x - y : x * y;
        if (exact > kMax || exact < kMin) first_overflow = i;
      }
      auto compiled = CompileExpression(Call(fn, {Col("a"), Col("b")}), *batch->schema());
      std::string message = ErrorMessage<UserError>([&] { compiled->Evaluate(*batch); });
      if (first_overflow < 0) {
        EXPECT_EQ(message, "") << fn;
      } else {
        EXPECT_NE(message.find(" at row " + std::to_string(first_overflow) + " of a batch"), std::string::npos)
            << fn << ": " << message;
      }
    }
  }
}

TEST(ArithmeticFunctions, NullLiteralsPropagate) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[1, 2]")}, {"f", ArrayOf(arrow::float64(), "[1, 2]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[null, null]"), Eval(Call("add", {Col("a"), LitNull()}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[null, null]"), Eval(Call("mul", {LitNull(), Col("f")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[null, null]"), Eval(Call("truediv", {Col("a"), LitNull("int64")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::null(), "[null, null]"), Eval(Call("sub", {LitNull(), LitNull()}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::null(), "[null, null]"), Eval(Call("neg", {LitNull()}), batch));
}

TEST(ArithmeticFunctions, TimestampPlusMinusMilliseconds) {
  auto us_utc = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  auto batch = MakeBatch({{"ts", ArrayOf(us_utc, "[1000000, null, -5]")},
                          {"ms", ArrayOf(arrow::int64(), "[1500, 1, null]")},
                          {"ts_ms", ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI), "[10, 20, 30]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(us_utc, "[2500000, null, null]"), Eval(Call("add", {Col("ts"), Col("ms")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(us_utc, "[2500000, null, null]"), Eval(Call("add", {Col("ms"), Col("ts")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(us_utc, "[999000, null, -1005]"), Eval(Call("sub", {Col("ts"), Lit(1)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI), "[1510, 21, null]"),
                      Eval(Call("add", {Col("ts_ms"), Col("ms")}), batch));
  auto schema = batch->schema();
  std::string message = ErrorMessage<UserTypeError>([&] { CompileExpression(Call("sub", {Col("ts"), Col("ts")}), *schema); });
  EXPECT_NE(message.find("subtracting timestamps is not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("col(\"ts\") (timestamp[us, tz=UTC])"), std::string::npos) << message;
  EXPECT_THROW(CompileExpression(Call("sub", {Col("ms"), Col("ts")}), *schema), UserTypeError);
  EXPECT_THROW(CompileExpression(Call("add", {Col("ts"), LitF(1.5)}), *schema), UserTypeError);
  EXPECT_THROW(CompileExpression(Call("mul", {Col("ts"), Lit(2)}), *schema), UserTypeError);
  auto seconds = MakeBatch({{"t", ArrayOf(arrow::timestamp(arrow::TimeUnit::SECOND), "[1]")}});
  message = ErrorMessage<UserTypeError>([&] { CompileExpression(Call("add", {Col("t"), Lit(1)}), *seconds->schema()); });
  EXPECT_NE(message.find("cast it to timestamp[ms] first"), std::string::npos) << message;
  // A shift beyond the unit's range (ms * 1000 us, or the sum) is an overflow error.
  auto late = MakeBatch({{"ts", ArrayOf(us_utc, "[0, 9223372036854775000]")}});
  message = ErrorMessage<UserError>([&] { Eval(Call("add", {Col("ts"), Lit(1)}), late); });
  EXPECT_NE(message.find("integer overflow in (col(\"ts\") + lit(1)): time 9223372036854775000 us + 1 ms"), std::string::npos) << message;
  message = ErrorMessage<UserError>([&] { Eval(Call("sub", {Col("ts"), Lit(kMax / 100)}), late); });
  EXPECT_NE(message.find("at row 0 of a batch"), std::string::npos) << message;
}

TEST(ArithmeticFunctions, BoolAndStringAreNotNumbers) {
  auto batch = MakeBatch({{"flag", ArrayOf(arrow::boolean(), "[true]")}, {"s", ArrayOf(arrow::utf8(), R"(["1"])")}});
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("add", {Col("flag"), Lit(1)}), *batch->schema()); }),
            "cannot apply '+' to col(\"flag\") (bool) and lit(1) (int64)");
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("neg", {Col("s")}), *batch->schema()); }),
            "cannot apply '-' to col(\"s\") (string)");
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("truediv", {Col("s"), Col("s")}), *batch->schema()); }),
            "cannot apply '/' to col(\"s\") (string) and col(\"s\") (string)");
}

}  // namespace
}  // namespace millstream
