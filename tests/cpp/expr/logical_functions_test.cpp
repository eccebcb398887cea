#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

using Tri = std::optional<bool>;

// Reference Kleene logic, written from the truth tables.
Tri KleeneAnd(Tri a, Tri b) {
  if (a == false || b == false) return false;
  if (a == true && b == true) return true;
  return std::nullopt;
}
Tri KleeneOr(Tri a, Tri b) {
  if (a == true || b == true) return true;
  if (a == false && b == false) return false;
  return std::nullopt;
}

std::string TriJson(const std::vector<Tri>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i ? ", " : "") + std::string(!values[i] ? "null" : (*values[i] ? "true" : "false"));
  }
  return out + "]";
}

TEST(LogicalFunctions, KleeneTruthTables) {
  std::vector<Tri> a, b, expected_and, expected_or, expected_not;
  for (Tri x : {Tri(true), Tri(false), Tri()}) {
    for (Tri y : {Tri(true), Tri(false), Tri()}) {
      a.push_back(x);
      b.push_back(y);
      expected_and.push_back(KleeneAnd(x, y));
      expected_or.push_back(KleeneOr(x, y));
      expected_not.push_back(x ? Tri(!*x) : Tri());
    }
  }
  auto batch = MakeBatch({{"a", ArrayOf(arrow::boolean(), TriJson(a))}, {"b", ArrayOf(arrow::boolean(), TriJson(b))}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), TriJson(expected_and)), Eval(Call("and", {Col("a"), Col("b")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), TriJson(expected_or)), Eval(Call("or", {Col("a"), Col("b")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), TriJson(expected_not)), Eval(Call("not", {Col("a")}), batch));
}

TEST(LogicalFunctions, ConstantsAndUntypedNull) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::boolean(), "[true, false, null]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[null, false, null]"), Eval(Call("and", {Col("a"), LitNull()}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, null, null]"), Eval(Call("or", {LitNull(), Col("a")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, true, true]"), Eval(Call("or", {Col("a"), LitB(true)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, false, false]"), Eval(Call("and", {LitB(false), Col("a")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[null, null, null]"), Eval(Call("not", {LitNull()}), batch));
  // three operands
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null]"),
                      Eval(Call("and", {Col("a"), LitB(true), LitB(true)}), batch));
}

TEST(LogicalFunctions, IsNullAndIsNotNull) {
  auto batch = MakeBatch({{"f", ArrayOf(arrow::float64(), "[NaN, null, 1.0]")},
                          {"s", ArrayOf(arrow::utf8(), R"([null, "", "x"])")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, true, false]"), Eval(Call("is_null", {Col("f")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, true]"), Eval(Call("is_not_null", {Col("f")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, false]"), Eval(Call("is_null", {Col("s")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, true, true]"), Eval(Call("is_null", {LitNull()}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, false, false]"), Eval(Call("is_null", {Lit(3)}), batch));
  // nulls from arithmetic are nulls
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, true, false]"),
                      Eval(Call("is_null", {Call("add", {Col("f"), Lit(1)})}), batch));
}

TEST(LogicalFunctions, OperandsMustBeBool) {
  auto batch = MakeBatch({{"n", ArrayOf(arrow::int64(), "[1]")}});
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("not", {Col("n")}), *batch->schema()); }),
            "cannot apply '~' to col(\"n\") (int64): '~' needs a bool");
  EXPECT_THROW(CompileExpression(Call("or", {LitB(true), Col("n")}), *batch->schema()), UserTypeError);
}

}  // namespace
}  // namespace millstream
