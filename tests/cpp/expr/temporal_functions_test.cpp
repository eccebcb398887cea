#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

// Instants around DST changes (Paris 2024-03-31 01:00 UTC), a leap day, before 1970 and before 1900.
const std::vector<std::optional<int64_t>> kInstantsMs = {0, -1, 1700000000123, 1711846799999, 1711846800000,
                                                         1730000000000, 951782400000, -2208988800001, std::nullopt};

std::string InstantsJson(int64_t units_per_ms) {
  std::string out = "[";
  for (size_t i = 0; i < kInstantsMs.size(); ++i) {
    out += (i ? ", " : "") + (kInstantsMs[i] ? std::to_string(*kInstantsMs[i] * units_per_ms) : std::string("null"));
  }
  return out + "]";
}

struct ZoneParts {
  std::string zone;  // "" = naive (UTC)
  std::map<std::string, std::string> parts;
};

// Expected parts computed with Python's datetime + zoneinfo (an independent tz implementation).
// kLmtNote: one known difference. Before ~1900 zones used local mean time, offsets with seconds
// (Paris +0:09:21); Arrow's `second` does not apply the zone (true of every offset since 1972,
// which are whole minutes), so the 1899 instant keeps its UTC second, 59, where zoneinfo says 20.
std::vector<ZoneParts> ExpectedParts() {
  return {
      {"", {{"year", "[1970, 1969, 2023, 2024, 2024, 2024, 2000, 1899, null]"},
            {"month", "[1, 12, 11, 3, 3, 10, 2, 12, null]"},
            {"day", "[1, 31, 14, 31, 31, 27, 29, 31, null]"},
            {"hour", "[0, 23, 22, 0, 1, 3, 0, 23, null]"},
            {"minute", "[0, 59, 13, 59, 0, 33, 0, 59, null]"},
            {"second", "[0, 59, 20, 59, 0, 20, 0, 59, null]"}}},
      {"Europe/Paris", {{"year", "[1970, 1970, 2023, 2024, 2024, 2024, 2000, 1900, null]"},
                        {"month", "[1, 1, 11, 3, 3, 10, 2, 1, null]"},
                        {"day", "[1, 1, 14, 31, 31, 27, 29, 1, null]"},
                        {"hour", "[1, 0, 23, 1, 3, 4, 1, 0, null]"},
                        {"minute", "[0, 59, 13, 59, 0, 33, 0, 9, null]"},
                        {"second", "[0, 59, 20, 59, 0, 20, 0, 59, null]"}}},  // zoneinfo: 20, see kLmtNote
      {"America/New_York", {{"year", "[1969, 1969, 2023, 2024, 2024, 2024, 2000, 1899, null]"},
                            {"month", "[12, 12, 11, 3, 3, 10, 2, 12, null]"},
                            {"day", "[31, 31, 14, 30, 30, 26, 28, 31, null]"},
                            {"hour", "[19, 18, 17, 20, 21, 23, 19, 18, null]"},
                            {"minute", "[0, 59, 13, 59, 0, 33, 0, 59, null]"},
                            {"second", "[0, 59, 20, 59, 0, 20, 0, 59, null]"}}},
      {"Asia/Kolkata", {{"year", "[1970, 1970, 2023, 2024, 2024, 2024, 2000, 1900, null]"},
                        {"month", "[1, 1, 11, 3, 3, 10, 2, 1, null]"},
                        {"day", "[1, 1, 15, 31, 31, 27, 29, 1, null]"},
                        {"hour", "[5, 5, 3, 6, 6, 9, 5, 5, null]"},
                        {"minute", "[30, 29, 43, 29, 30, 3, 30, 21, null]"},
                        {"second", "[0, 59, 20, 59, 0, 20, 0, 59, null]"}}},  // zoneinfo: 9, see kLmtNote
  };
}

TEST(TemporalFunctions, PartsInTheTimestampsZone) {
  for (const auto& expected : ExpectedParts()) {
    for (auto unit : {arrow::TimeUnit::MILLI, arrow::TimeUnit::MICRO}) {
      auto type = arrow::timestamp(unit, expected.zone);
      auto batch = MakeBatch({{"t", ArrayOf(type, InstantsJson(unit == arrow::TimeUnit::MILLI ? 1 : 1000))}});
      for (const auto& [part, values] : expected.parts) {
        SCOPED_TRACE(part + " in " + type->ToString());
        EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), values), Eval(Call("dt." + part, {Col("t")}), batch));
      }
    }
  }
}

TEST(TemporalFunctions, TruncateFloorsToEpochAlignedMultiples) {
  auto batch = MakeBatch({{"t", ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI, "Asia/Kolkata"),
                                        "[0, 9999, 10000, -1, -10000, -10001, null]")},
                          {"us", ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO), "[1999999, -1]")},
                          {"s", ArrayOf(arrow::timestamp(arrow::TimeUnit::SECOND), "[59, -1]")}});
  // epoch-aligned even for a zoned timestamp (as windows are), and floored before 1970
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI, "Asia/Kolkata"),
                              "[0, 0, 10000, -10000, -10000, -20000, null]"),
                      Eval(Call("dt.truncate", {Col("t")}, "\"every_ms\":10000"), batch));
  auto us = MakeBatch({{"us", batch->column(1)}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO), "[1000000, -1000000]"),
                      Eval(Call("dt.truncate", {Col("us")}, "\"every_ms\":1000"), us));
  auto s = MakeBatch({{"s", batch->column(2)}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::SECOND), "[30, -30]"),
                      Eval(Call("dt.truncate", {Col("s")}, "\"every_ms\":30000"), s));
  EXPECT_THROW(CompileExpression(Call("dt.truncate", {Col("s")}, "\"every_ms\":1500"), *batch->schema()), UserError);
  EXPECT_THROW(CompileExpression(Call("dt.truncate", {Col("t")}, "\"every_ms\":0"), *batch->schema()), UserError);
}

// Overflow is an error naming the expression and the row (expr/integer_overflow.h), never a
// wrapped time (dt.truncate of the earliest ns times used to give year 2262).
TEST(TemporalFunctions, TruncateAndEpochOverflowAreErrors) {
  auto ns = arrow::timestamp(arrow::TimeUnit::NANO);
  auto batch = MakeBatch({{"t", ArrayOf(ns, "[0, -9223372036854775807, 9223372036854775807]")}});
  std::string message = ErrorMessage<UserError>([&] { Eval(Call("dt.truncate", {Col("t")}, "\"every_ms\":3600000"), batch); });
  EXPECT_NE(message.find("integer overflow in col(\"t\").dt.truncate("), std::string::npos) << message;
  EXPECT_NE(message.find("the boundary below -9223372036854775807 in steps of 3600000000000 at row 1 of a batch"),
            std::string::npos) << message;
  // The latest time floors fine.
  auto latest = MakeBatch({{"t", ArrayOf(ns, "[9223372036854775807, null]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(ns, "[9223369200000000000, null]"),
                      Eval(Call("dt.truncate", {Col("t")}, "\"every_ms\":3600000"), latest));
  // every_ms beyond int64 nanoseconds: an error when the pipeline is built.
  EXPECT_THROW(CompileExpression(Call("dt.truncate", {Col("t")}, "\"every_ms\":9223372036854775"), *batch->schema()),
               UserError);
  // dt.epoch("ns") of microseconds past 2262.
  auto us = MakeBatch({{"t", ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO), "[9223372036854775, 9223372036854776, null]")}});
  message = ErrorMessage<UserError>([&] { Eval(Call("dt.epoch", {Col("t")}, "\"unit\":\"ns\""), us); });
  EXPECT_NE(message.find("9223372036854776 us in ns at row 1 of a batch does not fit in int64"), std::string::npos) << message;
  EXPECT_NE(message.find("coarser unit"), std::string::npos) << message;
  auto fits = MakeBatch({{"t", ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO), "[9223372036854775, -9223372036854775]")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[9223372036854775000, -9223372036854775000]"),
                      Eval(Call("dt.epoch", {Col("t")}, "\"unit\":\"ns\""), fits));
}

TEST(TemporalFunctions, EpochAndFromEpoch) {
  auto batch = MakeBatch({{"t", ArrayOf(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), "[1500000, -1, null]")},
                          {"n", ArrayOf(arrow::int64(), "[1700000000123, -5, null]")}});
  auto epoch = [&](const std::string& unit) {
    return Eval(Call("dt.epoch", {Col("t")}, "\"unit\":" + Quote(unit)), batch);
  };
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1, -1, null]"), epoch("s"));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1500, -1, null]"), epoch("ms"));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1500000, -1, null]"), epoch("us"));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1500000000, -1000, null]"), epoch("ns"));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI), "[1700000000123, -5, null]"),
                      Eval(Call("from_epoch", {Col("n")}, "\"unit\":\"ms\""), batch));
  // round trip
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[1700000000123, -5, null]"),
                      Eval(Call("dt.epoch", {Call("from_epoch", {Col("n")}, "\"unit\":\"ms\"")}, "\"unit\":\"ms\""), batch));
  auto schema = batch->schema();
  EXPECT_THROW(CompileExpression(Call("dt.epoch", {Col("t")}, "\"unit\":\"d\""), *schema), UserError);
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("dt.year", {Col("n")}), *schema); }),
            "cannot apply 'dt.year' to col(\"n\") (int64): it needs a timestamp; for epoch integers use "
            "from_epoch(x, unit=...) first");
  EXPECT_THROW(CompileExpression(Call("from_epoch", {Col("t")}, "\"unit\":\"ms\""), *schema), UserTypeError);
}

}  // namespace
}  // namespace millstream
