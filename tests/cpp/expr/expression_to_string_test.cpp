#include "expr/expression.h"

#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

TEST(ExpressionToString, OperatorsAreInfixWithParentheses) {
  EXPECT_EQ(ExpressionToString(Call("add", {Col("a"), Lit(1)})), "(col(\"a\") + lit(1))");
  EXPECT_EQ(ExpressionToString(Call("and", {Call("ge", {Col("a"), LitF(1.5)}), Call("not", {Col("f")})})),
            "((col(\"a\") >= lit(1.5)) & ~col(\"f\"))");
  EXPECT_EQ(ExpressionToString(Call("floordiv", {Call("neg", {Col("a")}), LitF(2)})), "(-col(\"a\") // lit(2.0))");
  EXPECT_EQ(ExpressionToString(Call("mod", {Col("a"), Col("b")})), "(col(\"a\") % col(\"b\"))");
}

TEST(ExpressionToString, LiteralsShowTypeWhenNotInferable) {
  EXPECT_EQ(ExpressionToString(LitS("he said \"hi\"")), "lit(\"he said \\\"hi\\\"\")");
  EXPECT_EQ(ExpressionToString(LitNull()), "lit(null)");
  EXPECT_EQ(ExpressionToString(LitNull("int64")), "lit(null, int64)");
  EXPECT_EQ(ExpressionToString(LitTyped("1700000000000", "timestamp[ms]")), "lit(1700000000000, timestamp[ms])");
  EXPECT_EQ(ExpressionToString("{\"lit\": 3}"), "lit(3)");
  EXPECT_EQ(ExpressionToString("{\"lit\": 3, \"type\": \"float64\"}"), "lit(3.0)");
  EXPECT_EQ(ExpressionToString("{\"lit\": 3, \"type\": \"int32\"}"), "lit(3, int32)");
}

TEST(ExpressionToString, MethodsAliasWhenCast) {
  EXPECT_EQ(ExpressionToString(Alias("n", Call("str.len", {Col("s")}))), "col(\"s\").str.len().alias(\"n\")");
  EXPECT_EQ(ExpressionToString(Call("str.contains", {Col("s")}, "\"pattern\":\"a.b\",\"literal\":true")),
            "col(\"s\").str.contains(literal=true, pattern=\"a.b\")");
  EXPECT_EQ(ExpressionToString(Call("cast", {Col("a")}, "\"type\":\"float64\"")), "col(\"a\").cast(float64)");
  EXPECT_EQ(ExpressionToString(Call("fill_null", {Col("a"), Lit(0)})), "col(\"a\").fill_null(lit(0))");
  EXPECT_EQ(ExpressionToString(Call("when", {Col("c"), Lit(1), Col("d"), Lit(2), Lit(3)})),
            "when(col(\"c\")).then(lit(1)).when(col(\"d\")).then(lit(2)).otherwise(lit(3))");
  EXPECT_EQ(ExpressionToString(Call("from_epoch", {Col("t")}, "\"unit\":\"ms\"")), "from_epoch(col(\"t\"), unit=\"ms\")");
  EXPECT_EQ(ExpressionToString(Call("str.slice", {Col("s")}, "\"start\":-2,\"length\":null")),
            "col(\"s\").str.slice(length=null, start=-2)");
}

TEST(ExpressionToString, MalformedJsonIsAUserError) {
  EXPECT_THROW(ExpressionToString("{"), UserError);
  EXPECT_THROW(ExpressionToString("{\"fn\": \"add\", \"args\": 3}"), UserError);
  EXPECT_THROW(ExpressionToString("{\"alias\": \"x\"}"), UserError);
}

}  // namespace
}  // namespace millstream
