#include "expr/expression.h"

#include <atomic>
#include <thread>

#include "expr/bound_node.h"
#include "expr/function_registry.h"
#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

BatchPtr ThreeColumns() {
  return MakeBatch({{"a", ArrayOf(arrow::int64(), "[1, 2, null]")},
                    {"b", ArrayOf(arrow::float64(), "[0.5, null, 2.5]")},
                    {"name", ArrayOf(arrow::utf8(), R"(["x", "y", null])")}});
}

TEST(CompileExpression, ColumnIsReturnedWithoutCopy) {
  auto batch = ThreeColumns();
  auto compiled = CompileExpression(Col("b"), *batch->schema());
  EXPECT_EQ(compiled->name(), "b");
  EXPECT_TRUE(compiled->type()->Equals(arrow::float64()));
  auto result = compiled->Evaluate(*batch);
  EXPECT_EQ(result->data()->buffers[1]->data(), batch->column(1)->data()->buffers[1]->data());
}

TEST(CompileExpression, OutputNames) {
  auto schema = ThreeColumns()->schema();
  auto name_of = [&](const std::string& json) { return CompileExpression(json, *schema)->name(); };
  EXPECT_EQ(name_of(Col("a")), "a");
  EXPECT_EQ(name_of(Alias("total", Call("add", {Col("a"), Col("b")}))), "total");
  EXPECT_EQ(name_of(Call("add", {Col("a"), Col("b")})), "a");
  // The first column argument, depth first (polars would say "literal" here).
  EXPECT_EQ(name_of(Call("add", {Lit(1), Col("b")})), "b");
  EXPECT_EQ(name_of(Call("mul", {Call("neg", {Lit(2)}), Call("add", {Col("b"), Col("a")})})), "b");
  EXPECT_EQ(name_of(Lit(7)), "literal");
  EXPECT_EQ(name_of(Call("add", {Lit(1), Lit(2)})), "literal");
  // when: the first column among the then-values, then otherwise, then the conditions.
  EXPECT_EQ(name_of(Call("when", {Call("gt", {Col("a"), Lit(1)}), Col("b"), Lit(0)})), "b");
  EXPECT_EQ(name_of(Call("when", {Call("gt", {Col("a"), Lit(1)}), Lit(1), Lit(0)})), "a");
  EXPECT_EQ(name_of(Call("when", {Call("gt", {Col("a"), Lit(1)}), Lit(1), Col("b")})), "b");
  // An alias inside names the value it wraps.
  EXPECT_EQ(name_of(Call("add", {Alias("x", Col("a")), Lit(1)})), "x");
}

TEST(CompileExpression, LiteralIsBroadcast) {
  auto batch = ThreeColumns();
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[7, 7, 7]"), Eval(Lit(7), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["s", "s", "s"])"), Eval(LitS("s"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::null(), "[null, null, null]"), Eval(LitNull(), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[null, null, null]"), Eval(LitNull("int64"), batch));
}

TEST(CompileExpression, ConstantsAreFolded) {
  auto batch = ThreeColumns();
  auto compiled = CompileExpression(Call("add", {Call("mul", {Lit(6), Lit(7)}), LitF(0.5)}), *batch->schema());
  EXPECT_NE(compiled->root().literal(), nullptr);
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[42.5, 42.5, 42.5]"), compiled->Evaluate(*batch));
}

TEST(CompileExpression, UnknownColumnNamesExpressionAndColumns) {
  auto schema = ThreeColumns()->schema();
  std::string message = ErrorMessage<UserError>(
      [&] { CompileExpression(Call("add", {Col("x"), Lit(1)}), *schema); });
  EXPECT_EQ(message, "unknown column 'x' in expression (col(\"x\") + lit(1)); columns: a, b, name");
}

TEST(CompileExpression, AmbiguousColumnIsAnError) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[1]")}, {"a", ArrayOf(arrow::int64(), "[2]")}});
  std::string message = ErrorMessage<UserError>([&] { CompileExpression(Col("a"), *batch->schema()); });
  EXPECT_NE(message.find("column 'a' appears 2 times"), std::string::npos) << message;
}

TEST(CompileExpression, TypeMismatchNamesArgumentsAndTypes) {
  auto schema = ThreeColumns()->schema();
  auto type_error = [&](const std::string& json) {
    return ErrorMessage<UserTypeError>([&] { CompileExpression(json, *schema); });
  };
  EXPECT_EQ(type_error(Call("add", {Col("name"), Lit(1)})),
            "cannot apply '+' to col(\"name\") (string) and lit(1) (int64)");
  EXPECT_EQ(type_error(Call("lt", {Col("name"), Col("b")})),
            "cannot apply '<' to col(\"name\") (string) and col(\"b\") (float64)");
  EXPECT_EQ(type_error(Call("mul", {LitB(true), Col("a")})),
            "cannot apply '*' to lit(true) (bool) and col(\"a\") (int64)");
  EXPECT_EQ(type_error(Call("str.lower", {Col("a")})),
            "cannot apply 'str.lower' to col(\"a\") (int64): it needs a string");
  EXPECT_EQ(type_error(Call("and", {Col("a"), LitB(true)})),
            "cannot apply '&' to col(\"a\") (int64) and lit(true) (bool): both sides must be bool");
  // nested: the message quotes the sub-expression that is wrong
  EXPECT_EQ(type_error(Call("gt", {Call("add", {Col("a"), Col("name")}), Lit(1)})),
            "cannot apply '+' to col(\"a\") (int64) and col(\"name\") (string)");
}

TEST(CompileExpression, UnknownFunctionAndBadArity) {
  auto schema = ThreeColumns()->schema();
  std::string message = ErrorMessage<UserError>([&] { CompileExpression(Call("pow", {Col("a")}), *schema); });
  EXPECT_NE(message.find("unknown expression function 'pow'"), std::string::npos) << message;
  EXPECT_NE(message.find("str.lower"), std::string::npos) << message;
  message = ErrorMessage<UserError>([&] { CompileExpression(Call("add", {Col("a")}), *schema); });
  EXPECT_EQ(message, "'add' takes 2 arguments, got 1 in col(\"a\").add()");
}

TEST(CompileExpression, MalformedJsonIsAUserError) {
  auto schema = ThreeColumns()->schema();
  EXPECT_THROW(CompileExpression("{\"col\":", *schema), UserError);
  EXPECT_THROW(CompileExpression("[1, 2]", *schema), UserError);
  EXPECT_THROW(CompileExpression("{\"what\": 1}", *schema), UserError);
  EXPECT_THROW(CompileExpression("{\"lit\": 1.5, \"type\": \"int64\"}", *schema), UserError);
  EXPECT_THROW(CompileExpression("{\"lit\": 1, \"type\": \"decimal\"}", *schema), UserError);
  EXPECT_THROW(CompileExpression(Call("str.contains", {Col("name")}), *schema), UserError);  // no pattern
}

TEST(CompileExpression, PredicateMustBeBool) {
  auto batch = ThreeColumns();
  std::string message = ErrorMessage<UserTypeError>(
      [&] { CompilePredicate(Call("add", {Col("a"), Lit(1)}), *batch->schema()); });
  EXPECT_EQ(message, "filter predicate (col(\"a\") + lit(1)) has type int64; a filter needs a bool expression");
  auto not_bool = CompileExpression(Col("b"), *batch->schema());
  message = ErrorMessage<UserTypeError>([&] { FilterBatch(batch, *not_bool); });
  EXPECT_EQ(message, "filter predicate col(\"b\") has type float64; a filter needs a bool expression");
  EXPECT_NO_THROW(CompilePredicate(Call("gt", {Col("a"), Lit(1)}), *batch->schema()));
}

TEST(CompileExpression, EvaluatesSlicedBatches) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, null, 12]")}});
  auto sliced = batch->Slice(3, 7);  // offset not a multiple of 8
  auto result = Eval(Call("mul", {Col("a"), Lit(10)}), sliced);
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[40, 50, 60, 70, 80, 90, 100]"), result);
  result = Eval(Call("add", {Col("a"), Col("a")}), batch->Slice(9, 3));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[20, null, 24]"), result);
}

TEST(CompileExpression, WrongBatchSchemaIsAnInternalError) {
  auto batch = ThreeColumns();
  auto compiled = CompileExpression(Col("b"), *batch->schema());
  auto other = MakeBatch({{"a", ArrayOf(arrow::int64(), "[1]")}, {"b", ArrayOf(arrow::int64(), "[1]")}});
  EXPECT_THROW(compiled->Evaluate(*other), InternalError);
}

TEST(CompileExpression, SharedAcrossThreads) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[1, 2, 3, null]")}});
  auto compiled = CompileExpression(Call("add", {Call("mul", {Col("a"), Lit(3)}), Lit(1)}), *batch->schema());
  auto expected = ArrayOf(arrow::int64(), "[4, 7, 10, null]");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!compiled->Evaluate(*batch)->Equals(*expected)) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(FunctionRegistry, EveryFunctionHasADoc) {
  const auto& registry = expr::FunctionRegistry::Default();
  for (const auto& name : {"add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "eq", "ne", "lt",
                           "le", "gt", "ge", "and", "or", "not", "is_null", "is_not_null", "fill_null",
                           "cast", "when", "str.contains", "str.starts_with", "str.ends_with",
                           "str.lower", "str.upper", "str.len", "str.slice", "dt.truncate", "dt.year",
                           "dt.month", "dt.day", "dt.hour", "dt.minute", "dt.second", "dt.epoch",
                           "from_epoch"}) {
    const std::string* doc = registry.Doc(name);
    ASSERT_NE(doc, nullptr) << name;
    EXPECT_GT(doc->size(), 10u) << name;
  }
  EXPECT_EQ(registry.Names().size(), 37u);
}

}  // namespace
}  // namespace millstream
