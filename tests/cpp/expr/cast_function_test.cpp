#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

std::string Cast(const std::string& inner, const std::string& type) {
  return Call("cast", {inner}, "\"type\":" + Quote(type));
}

TEST(CastFunction, BetweenNumbers) {
  auto batch = MakeBatch({{"i", ArrayOf(arrow::int64(), "[1, -2, null, 9007199254740993]")},
                          {"f", ArrayOf(arrow::float64(), "[1.9, -1.9, null, -0.0]")},
                          {"b", ArrayOf(arrow::boolean(), "[true, false, null, true]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[1.0, -2.0, null, 9007199254740992.0]"), Eval(Cast(Col("i"), "float64"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, -1, null, 0]"), Eval(Cast(Col("f"), "int64"), batch));  // toward zero
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int32(), "[1, -1, null, 0]"), Eval(Cast(Col("f"), "int32"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, 0, null, 1]"), Eval(Cast(Col("b"), "int64"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, true, null, true]"), Eval(Cast(Col("i"), "bool"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, -2, null, 9007199254740993]"), Eval(Cast(Col("i"), "int64"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[null, null, null, null]"), Eval(Cast(LitNull(), "float64"), batch));
}

TEST(CastFunction, FloatThatDoesNotFitIsAnError) {
  auto batch = MakeBatch({{"f", ArrayOf(arrow::float64(), "[1.0, null, 1e20]")}, {"g", ArrayOf(arrow::float64(), "[NaN]")}});
  std::string message = ErrorMessage<UserError>([&] { Eval(Cast(Col("f"), "int64"), batch); });
  EXPECT_EQ(message, "cast failed in col(\"f\").cast(int64): 1e+20 (row 2) does not fit in int64");
  auto nan_batch = MakeBatch({{"g", ArrayOf(arrow::float64(), "[NaN]")}});
  message = ErrorMessage<UserError>([&] { Eval(Cast(Col("g"), "int64"), nan_batch); });
  EXPECT_NE(message.find("nan (row 0) does not fit in int64"), std::string::npos) << message;
  // a null slot holding garbage is no error
  auto with_null = MakeBatch({{"f", ArrayOf(arrow::float64(), "[1.5, null]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, null]"), Eval(Cast(Col("f"), "int64"), with_null));
}

TEST(CastFunction, NumbersAndStrings) {
  auto batch = MakeBatch({{"i", ArrayOf(arrow::int64(), "[12, -3, null]")},
                          {"f", ArrayOf(arrow::float64(), "[1.5, -0.25, null]")},
                          {"b", ArrayOf(arrow::boolean(), "[true, false, null]")},
                          {"s", ArrayOf(arrow::utf8(), R"(["12", "-3", null])")},
                          {"sf", ArrayOf(arrow::utf8(), R"(["1.5", "1e3", null])")},
                          {"sb", ArrayOf(arrow::utf8(), R"(["true", "false", null])")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["12", "-3", null])"), Eval(Cast(Col("i"), "string"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["1.5", "-0.25", null])"), Eval(Cast(Col("f"), "string"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["true", "false", null])"), Eval(Cast(Col("b"), "string"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[12, -3, null]"), Eval(Cast(Col("s"), "int64"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::float64(), "[1.5, 1000.0, null]"), Eval(Cast(Col("sf"), "float64"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, null]"), Eval(Cast(Col("sb"), "bool"), batch));
  std::string message = ErrorMessage<UserError>([&] { Eval(Cast(Col("sf"), "int64"), batch); });
  EXPECT_NE(message.find("cast failed in col(\"sf\").cast(int64)"), std::string::npos) << message;
  EXPECT_NE(message.find("Failed to parse string"), std::string::npos) << message;  // Arrow names one bad value
}

TEST(CastFunction, StringToTimestamp) {
  auto batch = MakeBatch({{"s", ArrayOf(arrow::utf8(), R"(["2024-01-01T12:00:00", "2024-01-01 12:00:00Z",
                                                          "2024-01-01T12:00:00+01:00", null, "2024-01-01"])")}});
  // naive target: an offset is converted to UTC
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::SECOND),
                              "[1704110400, 1704110400, 1704106800, null, 1704067200]"),
                      Eval(Cast(Col("s"), "timestamp[s]"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI),
                              "[1704110400000, 1704110400000, 1704106800000, null, 1704067200000]"),
                      Eval(Cast(Col("s"), "timestamp[ms]"), batch));
  // zoned target: a string without offset is wall time there (Paris is UTC+1 in January)
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::SECOND, "Europe/Paris"),
                              "[1704106800, 1704110400, 1704106800, null, 1704063600]"),
                      Eval(Cast(Col("s"), "timestamp[s, tz=Europe/Paris]"), batch));
  auto bad = MakeBatch({{"s", ArrayOf(arrow::utf8(), R"(["2024-01-01T00:00:00", "yesterday"])")}});
  EXPECT_EQ(ErrorMessage<UserError>([&] { Eval(Cast(Col("s"), "timestamp[us]"), bad); }),
            "cast failed in col(\"s\").cast(timestamp[us]): 'yesterday' (row 1) is not an ISO 8601 timestamp "
            "for timestamp[us]");
  auto large = MakeBatch({{"s", ArrayOf(arrow::large_utf8(), R"(["1970-01-01T00:00:01.5"])")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI), "[1500]"), Eval(Cast(Col("s"), "timestamp[ms]"), large));
}

TEST(CastFunction, TimestampsAndIntegers) {
  auto ms = arrow::timestamp(arrow::TimeUnit::MILLI);
  auto batch = MakeBatch({{"t", ArrayOf(ms, "[1700000000123, null, -1]")},
                          {"n", ArrayOf(arrow::int64(), "[5, null, -7]")},
                          {"n32", ArrayOf(arrow::int32(), "[5, null, -7]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1700000000123, null, -1]"), Eval(Cast(Col("t"), "int64"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO), "[5, null, -7]"), Eval(Cast(Col("n"), "timestamp[us]"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO), "[5, null, -7]"), Eval(Cast(Col("n32"), "timestamp[us]"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO), "[1700000000123000, null, -1000]"),
                      Eval(Cast(Col("t"), "timestamp[us]"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"), "[1700000000123, null, -1]"),
                      Eval(Cast(Col("t"), "timestamp[ms, tz=UTC]"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["2023-11-14 22:13:20.123", null, "1969-12-31 23:59:59.999"])"),
                      Eval(Cast(Col("t"), "string"), batch));
  EXPECT_THROW(CompileExpression(Cast(Col("t"), "float64"), *batch->schema()), UserTypeError);
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Cast(LitB(true), "timestamp[ms]"), *batch->schema()); }),
            "cannot cast lit(true) (bool) to timestamp[ms] in lit(true).cast(timestamp[ms])");
  EXPECT_THROW(CompileExpression(Cast(Col("t"), "decimal"), *batch->schema()), UserError);
}

}  // namespace
}  // namespace millstream
