// Running aggregates (key_by(..).agg(..)): after each batch, one row per key that changed with
// its totals so far; checked against totals recomputed from the input prefix, over both backends
// and a hot budget that writes keys back to the backend.
#include "ops/window_aggregate.h"

#include <map>
#include <random>

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "keyed_operator_harness.h"

namespace millstream {
namespace {

using testing::RunKeyedOperator;
using testing::RunOptions;
using testing::Step;

TEST(RunningAggregate, EmitsEachChangedKeyWithItsTotalsAfterEveryBatch) {
  std::mt19937_64 random(4);
  const int64_t n = 20000;
  arrow::StringBuilder keys;
  arrow::Int64Builder values;
  std::vector<std::string> key_of_row;
  std::vector<std::optional<int64_t>> value_of_row;
  for (int64_t i = 0; i < n; ++i) {
    key_of_row.push_back("k" + std::to_string(std::uniform_int_distribution<int>(0, 300)(random)));
    value_of_row.push_back(i % 9 == 0 ? std::nullopt : std::optional<int64_t>(std::uniform_int_distribution<int64_t>(-50, 50)(random)));
    CheckArrow(keys.Append(key_of_row.back()), "k");
    CheckArrow(value_of_row.back() ? values.Append(*value_of_row.back()) : values.AppendNull(), "v");
  }
  auto schema = arrow::schema({arrow::field("k", arrow::utf8()), arrow::field("v", arrow::int64())});
  auto batch = arrow::RecordBatch::Make(schema, n, {CheckArrow(keys.Finish(), "k"), CheckArrow(values.Finish(), "v")});
  auto op = MakeRunningAggregate(schema, {0}, {{"count", -1, "n"}, {"sum", 1, "total"}, {"last", 1, "latest"}});
  ASSERT_EQ(op->num_ports(), 1);
  ASSERT_EQ(op->output_schema(0)->ToString(), "k: string\nn: int64\ntotal: int64\nlatest: int64");
  std::vector<Step> steps;
  for (int64_t offset = 0; offset < n;) {
    int64_t length = std::min<int64_t>(n - offset, std::uniform_int_distribution<int64_t>(1, 3000)(random));
    steps.push_back(Step{offset, length});
    offset += length;
  }
  for (const char* backend : {"memory", "rocksdb"}) {
    RunOptions options;
    options.backend = backend;
    options.parallelism = 2;
    options.hot_state_bytes = std::string(backend) == "rocksdb" ? 2048 : -1;
    auto result = RunKeyedOperator(*op, batch, steps, options);
    // Expected: per step, per key changed in the step, the totals over the prefix up to the step.
    std::map<std::string, std::tuple<int64_t, int64_t, bool, std::optional<int64_t>>> totals;
    std::vector<testing::Row> expected;
    for (const Step& step : steps) {
      std::map<std::string, bool> changed;
      for (int64_t i = step.offset; i < step.offset + step.length; ++i) {
        auto& [count, sum, has_sum, last] = totals[key_of_row[i]];
        ++count;
        if (value_of_row[i]) {
          sum += *value_of_row[i];
          has_sum = true;
          last = value_of_row[i];  // no event time: the last to arrive
        }
        changed[key_of_row[i]] = true;
      }
      for (const auto& [key, unused] : changed) {
        auto& [count, sum, has_sum, last] = totals[key];
        testing::Cell k, c, s, l;
        k.text = key;
        c.integer = count;
        s.null = !has_sum;
        s.integer = sum;
        l.null = !last;
        l.integer = last.value_or(0);
        expected.push_back({k, c, s, l});
      }
    }
    testing::ExpectSameRows(testing::RowsOf(*result.output), expected, backend);
    EXPECT_EQ(result.state_entries_after, 0);
  }
}

}  // namespace
}  // namespace millstream
