// Which row groups a filter rules out from their statistics: each case is a predicate and the
// row groups (of a file written here) that may match it, checked against the rows themselves
// (a group whose rows make the predicate true must never be ruled out).
#include "connectors/parquet_row_group_filter.h"

#include <arrow/builder.h>
#include <arrow/io/file.h>
#include <arrow/table.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>
#include <parquet/file_reader.h>

#include <cmath>
#include <limits>

#include "../formats/text_file_testing.h"
#include "core/error.h"

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

// Four row groups of 3 rows:
//   group 0: i 0..2,   f 0.5 NaN 1.5,  s "a" "b" "c", n null null null, ts 0..2 s (in ms)
//   group 1: i 10..12, f 10 11 12,     s "m" null "n", n 1 2 3,          ts 10..12 s
//   group 2: i 20..22, f NaN NaN NaN,  s "x" "y" "z", n 4 null 6,        ts 20..22 s
//   group 3: i 30..32, f 30 31 32,     s null null null, n 7 8 9,        ts 30..32 s
std::string WriteGroups(const std::string& path) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  arrow::Int64Builder i, n;
  arrow::DoubleBuilder f;
  arrow::StringBuilder s;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MILLI), arrow::default_memory_pool());
  const double floats[] = {0.5, nan, 1.5, 10, 11, 12, nan, nan, nan, 30, 31, 32};
  const char* strings[] = {"a", "b", "c", "m", nullptr, "n", "x", "y", "z", nullptr, nullptr, nullptr};
  const int64_t ns[] = {-1, -1, -1, 1, 2, 3, 4, -1, 6, 7, 8, 9};
  for (int row = 0; row < 12; ++row) {
    const int64_t value = row / 3 * 10 + row % 3;
    CheckArrow(i.Append(value), "i");
    CheckArrow(f.Append(floats[row]), "f");
    CheckArrow(strings[row] ? s.Append(strings[row]) : s.AppendNull(), "s");
    CheckArrow(ns[row] < 0 ? n.AppendNull() : n.Append(ns[row]), "n");
    CheckArrow(ts.Append(value * 1000), "ts");
  }
  auto schema = arrow::schema({arrow::field("i", arrow::int64()), arrow::field("f", arrow::float64()),
                               arrow::field("s", arrow::utf8()), arrow::field("n", arrow::int64()),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI))});
  auto table = arrow::Table::Make(schema, {CheckArrow(i.Finish(), "i"), CheckArrow(f.Finish(), "f"),
                                           CheckArrow(s.Finish(), "s"), CheckArrow(n.Finish(), "n"),
                                           CheckArrow(ts.Finish(), "ts")});
  auto out = CheckArrow(arrow::io::FileOutputStream::Open(path), "open");
  CheckArrow(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 3), "write");
  CheckArrow(out->Close(), "close");
  return path;
}

std::string Col(const std::string& name) { return R"({"col": ")" + name + R"("})"; }
std::string Lit(const std::string& value, const std::string& type) {
  return R"({"lit": )" + value + R"(, "type": ")" + type + R"("})";
}
std::string Fn(const std::string& fn, const std::string& a, const std::string& b = "") {
  return R"({"fn": ")" + fn + R"(", "args": [)" + a + (b.empty() ? "" : ", " + b) + "]}";
}

struct Case {
  std::string predicate;
  std::vector<int> may_match;  // the groups not ruled out
};

TEST(ParquetRowGroupFilter, RulesOutOnlyGroupsWithoutAMatch) {
  TempDir dir;
  auto reader = parquet::ParquetFileReader::OpenFile(WriteGroups(dir.File("g.parquet")));
  auto metadata = reader->metadata();
  ASSERT_EQ(metadata->num_row_groups(), 4);
  const arrow::Schema schema({arrow::field("i", arrow::int64()), arrow::field("f", arrow::float64()),
                              arrow::field("s", arrow::utf8()), arrow::field("n", arrow::int64()),
                              arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI))});
  const std::vector<std::vector<int>> leaves = {{0}, {1}, {2}, {3}, {4}};
  const Case cases[] = {
      {Fn("gt", Col("i"), Lit("15", "int64")), {2, 3}},
      {Fn("ge", Col("i"), Lit("32", "int64")), {3}},
      {Fn("lt", Col("i"), Lit("0", "int64")), {}},
      {Fn("le", Col("i"), Lit("10", "int64")), {0, 1}},
      {Fn("eq", Col("i"), Lit("21", "int64")), {2}},
      {Fn("ne", Col("i"), Lit("21", "int64")), {0, 1, 2, 3}},
      {Fn("gt", Lit("15", "int64"), Col("i")), {0, 1}},             // literal on the left
      {Fn("gt", Col("i"), Lit("11.5", "float64")), {1, 2, 3}},      // int column, float literal
      // NaN never compares true; a group of NaN only has no min and max: it may match
      {Fn("gt", Col("f"), Lit("20", "int64")), {2, 3}},
      {Fn("ne", Col("f"), Lit("11", "int64")), {0, 1, 2, 3}},       // NaN != 11 is true
      {Fn("eq", Col("s"), Lit(R"("b")", "string")), {0}},
      {Fn("gt", Col("s"), Lit(R"("n")", "string")), {2}},           // group 3 is all null
      {Fn("is_null", Col("n")), {0, 2}},
      {Fn("is_not_null", Col("s")), {0, 1, 2}},
      {Fn("eq", Col("n"), Lit("null", "null")), {}},                 // null compares to nothing
      {Fn("and", Fn("ge", Col("i"), Lit("10", "int64")), Fn("lt", Col("i"), Lit("20", "int64"))),
       {1}},
      {Fn("or", Fn("lt", Col("i"), Lit("5", "int64")), Fn("is_null", Col("s"))), {0, 1, 3}},
      // a timestamp in us against the column in ms: 20.5 s
      {Fn("ge", Col("ts"), Lit("20500000", "timestamp[us, tz=UTC]")), {2, 3}},
      {Fn("lt", Col("ts"), Lit("10", "timestamp[s]")), {0}},
      // not understood: every group may match
      {Fn("not", Fn("lt", Col("i"), Lit("5", "int64"))), {0, 1, 2, 3}},
      {Fn("gt", Col("i"), Col("n")), {0, 1, 2, 3}},
      {Fn("eq", Fn("add", Col("i"), Lit("1", "int64")), Lit("5", "int64")), {0, 1, 2, 3}},
  };
  for (const Case& c : cases) {
    ParquetRowGroupFilter filter(c.predicate, schema, leaves);
    std::vector<int> may_match;
    for (int group = 0; group < 4; ++group) {
      if (filter.MayMatch(*metadata->RowGroup(group))) may_match.push_back(group);
    }
    EXPECT_EQ(may_match, c.may_match) << c.predicate;
  }
}

TEST(ParquetRowGroupFilter, MalformedJsonIsAUserError) {
  const arrow::Schema schema({arrow::field("i", arrow::int64())});
  EXPECT_NE(UserErrorOf([&] { ParquetRowGroupFilter("{", schema, {{0}}); }).find("not JSON"),
            std::string::npos);
}

}  // namespace
}  // namespace millstream
