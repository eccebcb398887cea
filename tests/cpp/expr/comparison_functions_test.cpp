#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

const std::vector<std::pair<std::string, std::function<bool(double, double)>>>& Comparisons() {
  static const std::vector<std::pair<std::string, std::function<bool(double, double)>>> kComparisons = {
      {"eq", [](double x, double y) { return x == y; }}, {"ne", [](double x, double y) { return x != y; }},
      {"lt", [](double x, double y) { return x < y; }},  {"le", [](double x, double y) { return x <= y; }},
      {"gt", [](double x, double y) { return x > y; }},  {"ge", [](double x, double y) { return x >= y; }}};
  return kComparisons;
}

void ExpectMatchesReference(const arrow::Array& result, const std::vector<std::optional<double>>& left,
                            const std::vector<std::optional<double>>& right,
                            const std::function<bool(double, double)>& reference, const std::string& what) {
  const auto& bools = static_cast<const arrow::BooleanArray&>(result);
  int mismatches = 0;
  for (int64_t i = 0; i < result.length(); ++i) {
    std::optional<bool> expected;
    if (left[i] && right[i]) expected = reference(*left[i], *right[i]);
    std::optional<bool> actual;
    if (bools.IsValid(i)) actual = bools.Value(i);
    if (expected != actual) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << what;
}

template <typename T>
std::vector<std::optional<double>> AsDoubles(const std::vector<std::optional<T>>& values) {
  std::vector<std::optional<double>> out;
  for (const auto& v : values) out.push_back(v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt);
  return out;
}

TEST(ComparisonFunctions, NumbersAgainstReferenceWithNulls) {
  std::mt19937_64 rng(7);
  std::vector<std::optional<int64_t>> i_values, j_values;
  std::vector<std::optional<double>> f_values;
  // 1000 rows: not a multiple of 64, to reach the tail of the bit packing.
  auto i = RandomInt64(rng, 1000, -5, 5, 0.15, &i_values);
  auto j = RandomInt64(rng, 1000, -5, 5, 0.15, &j_values);
  auto f = RandomDouble(rng, 1000, -5, 5, 0.15, &f_values);
  auto batch = MakeBatch({{"i", i}, {"j", j}, {"f", f}});
  for (const auto& [fn, reference] : Comparisons()) {
    ExpectMatchesReference(*Eval(Call(fn, {Col("i"), Col("j")}), batch), AsDoubles(i_values), AsDoubles(j_values),
                           reference, fn + " int/int");
    ExpectMatchesReference(*Eval(Call(fn, {Col("i"), Col("f")}), batch), AsDoubles(i_values), f_values, reference,
                           fn + " int/float");
    ExpectMatchesReference(*Eval(Call(fn, {Col("f"), Col("i")}), batch), f_values, AsDoubles(i_values), reference,
                           fn + " float/int");
    std::vector<std::optional<double>> two(1000, 2.0);
    ExpectMatchesReference(*Eval(Call(fn, {Col("i"), Lit(2)}), batch), AsDoubles(i_values), two, reference,
                           fn + " int/const");
    ExpectMatchesReference(*Eval(Call(fn, {LitF(2.0), Col("f")}), batch), two, f_values, reference,
                           fn + " const/float");
  }
}

TEST(ComparisonFunctions, NullsAndNaN) {
  auto batch = MakeBatch({{"f", ArrayOf(arrow::float64(), "[NaN, 1.0, null]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, true, null]"), Eval(Call("eq", {Col("f"), LitF(1.0)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null]"), Eval(Call("ne", {Col("f"), Col("f")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[null, null, null]"), Eval(Call("lt", {Col("f"), LitNull()}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[null, null, null]"), Eval(Call("lt", {Col("f"), LitNull("float64")}), batch));
}

TEST(ComparisonFunctions, StringsBoolsAndTheirMismatches) {
  auto batch = MakeBatch({{"s", ArrayOf(arrow::utf8(), R"(["apple", "Äpfel", null, "banana"])")},
                          {"l", ArrayOf(arrow::large_utf8(), R"(["apple", "apfel", "x", "b"])")},
                          {"flag", ArrayOf(arrow::boolean(), "[true, false, null, true]")},
                          {"n", ArrayOf(arrow::int64(), "[1, 2, 3, 4]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null, false]"), Eval(Call("eq", {Col("s"), LitS("apple")}), batch));
  // byte-wise (code point) order: "Ä" (0xC3 0x84) sorts after "b"
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null, false]"), Eval(Call("lt", {Col("s"), LitS("b")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null, false]"), Eval(Call("eq", {Col("s"), Col("l")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null, true]"), Eval(Call("eq", {Col("flag"), LitB(true)}), batch));
  auto schema = batch->schema();
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("eq", {Col("s"), Lit(1)}), *schema); }),
            "cannot apply '==' to col(\"s\") (string) and lit(1) (int64)");
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("gt", {Col("n"), Col("flag")}), *schema); }),
            "cannot apply '>' to col(\"n\") (int64) and col(\"flag\") (bool)");
  EXPECT_THROW(CompileExpression(Call("eq", {Col("s"), LitNull("int64")}), *schema), UserTypeError);
}

TEST(ComparisonFunctions, TimestampsCompareAsInstants) {
  auto batch = MakeBatch({{"ms", ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI), "[1000, 2000, null]")},
                          {"s", ArrayOf(arrow::timestamp(arrow::TimeUnit::SECOND), "[1, 1, 1]")},
                          {"utc", ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), "[1000000, 0, 0]")},
                          {"paris", ArrayOf(arrow::timestamp(arrow::TimeUnit::NANO, "Europe/Paris"),
                                            "[1000000000, 1, 0]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null]"), Eval(Call("eq", {Col("ms"), Col("s")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, true, null]"), Eval(Call("gt", {Col("ms"), Col("s")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, true]"), Eval(Call("eq", {Col("utc"), Col("paris")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, true, null]"),
                      Eval(Call("ge", {Col("ms"), LitTyped("1500000", "timestamp[us]")}), batch));
  std::string message = ErrorMessage<UserTypeError>([&] { CompileExpression(Call("lt", {Col("ms"), Col("utc")}), *batch->schema()); });
  EXPECT_NE(message.find("cannot compare a timestamp with a time zone to one without"), std::string::npos) << message;
  EXPECT_THROW(CompileExpression(Call("lt", {Col("ms"), Lit(5)}), *batch->schema()), UserTypeError);
}

}  // namespace
}  // namespace millstream
