#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

TEST(ConditionalFunctions, FillNull) {
  auto batch = MakeBatch({{"i", ArrayOf(arrow::int64(), "[1, null, 3]")},
                          {"f", ArrayOf(arrow::float64(), "[NaN, null, 2.5]")},
                          {"s", ArrayOf(arrow::utf8(), R"([null, "b", null])")},
                          {"j", ArrayOf(arrow::int64(), "[10, 20, null]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, 0, 3]"), Eval(Call("fill_null", {Col("i"), Lit(0)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, 20, 3]"), Eval(Call("fill_null", {Col("i"), Col("j")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[1.0, 0.5, 3.0]"), Eval(Call("fill_null", {Col("i"), LitF(0.5)}), batch));
  // NaN is a value, not a null
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[NaN, -1.0, 2.5]"), Eval(Call("fill_null", {Col("f"), Lit(-1)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["?", "b", "?"])"), Eval(Call("fill_null", {Col("s"), LitS("?")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, null, 3]"), Eval(Call("fill_null", {Col("i"), LitNull()}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[7, 7, 7]"), Eval(Call("fill_null", {LitNull(), Lit(7)}), batch));
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("fill_null", {Col("s"), Lit(0)}), *batch->schema()); }),
            "cannot apply 'fill_null' to col(\"s\") (string) and lit(0) (int64): the fill value must have the "
            "type of the column (numbers mix)");
}

TEST(ConditionalFunctions, WhenTakesFirstTrueConditionAndNullCountsAsFalse) {
  auto batch = MakeBatch({{"c1", ArrayOf(arrow::boolean(), "[true, null, false, false, true]")},
                          {"c2", ArrayOf(arrow::boolean(), "[true, true, null, false, false]")},
                          {"x", ArrayOf(arrow::int64(), "[1, 2, 3, 4, null]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, 20, 0, 0, null]"),
                      Eval(Call("when", {Col("c1"), Col("x"), Col("c2"), Call("mul", {Col("x"), Lit(10)}), Lit(0)}), batch));
  // mixed int / float values give float64; a null otherwise keeps the type
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[1.0, 0.5, 0.5, 0.5, null]"),
                      Eval(Call("when", {Col("c1"), Col("x"), LitF(0.5)}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["yes", null, null, null, "yes"])"),
                      Eval(Call("when", {Col("c1"), LitS("yes"), LitNull()}), batch));
  // conditions computed from columns
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["small", "small", "big", "big", "small"])"),
                      Eval(Call("when", {Call("lt", {Call("fill_null", {Col("x"), Lit(0)}), Lit(3)}), LitS("small"), LitS("big")}), batch));
  // constant condition
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[9, 9, 9, 9, 9]"), Eval(Call("when", {LitB(false), Col("x"), Lit(9)}), batch));
}

TEST(ConditionalFunctions, WhenTypeErrors) {
  auto batch = MakeBatch({{"c", ArrayOf(arrow::boolean(), "[true]")}, {"n", ArrayOf(arrow::int64(), "[1]")},
                          {"s", ArrayOf(arrow::utf8(), R"(["a"])")}});
  auto schema = batch->schema();
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("when", {Col("n"), Lit(1), Lit(2)}), *schema); }),
            "the condition col(\"n\") of when(col(\"n\")).then(lit(1)).otherwise(lit(2)) has type int64; "
            "a condition must be bool");
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("when", {Col("c"), Col("n"), Col("s")}), *schema); }),
            "the values of when(col(\"c\")).then(col(\"n\")).otherwise(col(\"s\")) have no common type: "
            "col(\"n\") (int64), col(\"s\") (string)");
  EXPECT_THROW(CompileExpression(Call("when", {Col("c"), Col("n")}), *schema), UserError);
}

}  // namespace
}  // namespace millstream
