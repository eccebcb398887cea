// Keyed windows (tumbling, sliding, session) against the brute-force model of
// window_reference.h on random out-of-order input, random batch sizes and watermarks, over both
// state backends, several parallelisms and hot-state budgets that force write-back.
#include "ops/window_aggregate.h"

#include <map>
#include <random>

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/types.h"
#include "keyed_operator_harness.h"
#include "ops/aggregation_plan.h"
#include "window_reference.h"

namespace millstream {
namespace {

using testing::ExpectSameRows;
using testing::InputRows;
using testing::ReferenceResult;
using testing::RowsOf;
using testing::RunKeyedOperator;
using testing::RunOptions;
using testing::RunResult;
using testing::Step;

// n rows over `keys` keys (a few null keys), times advancing ~step_ms per row with up to
// disorder_ms of lateness, values in multiples of 0.25 (sums are exact in any order) or null.
InputRows RandomInput(int64_t n, int64_t keys, int64_t step_ms, int64_t disorder_ms,
                      std::mt19937_64& random) {
  InputRows in;
  std::uniform_int_distribution<int64_t> key(0, keys - 1), jitter(0, disorder_ms),
      value(-400, 400), coin(0, 99);
  for (int64_t i = 0; i < n; ++i) {
    in.keys.push_back(coin(random) < 2 ? std::nullopt : std::optional<int64_t>(key(random) * 7 - 3));
    in.times_ms.push_back(1'000'000 + i * step_ms - jitter(random));
    in.values.push_back(coin(random) < 10 ? std::nullopt : std::optional<double>(value(random) * 0.25));
  }
  return in;
}

// The input as a batch: k int64, ts (int64 ms or timestamp[unit]), v float64.
BatchPtr ToBatch(const InputRows& in, std::shared_ptr<arrow::DataType> time_type) {
  arrow::Int64Builder keys, times;
  arrow::DoubleBuilder values;
  int64_t per_ms = 1;
  if (time_type->id() == arrow::Type::TIMESTAMP) {
    per_ms = TimestampUnitsPerMs(static_cast<const arrow::TimestampType&>(*time_type).unit());
  }
  for (int64_t i = 0; i < in.size(); ++i) {
    CheckArrow(in.keys[i] ? keys.Append(*in.keys[i]) : keys.AppendNull(), "k");
    int64_t t = in.times_ms[i];
    CheckArrow(times.Append(per_ms == -1000 ? t / 1000 : t * per_ms), "ts");
    CheckArrow(in.values[i] ? values.Append(*in.values[i]) : values.AppendNull(), "v");
  }
  auto time_data = CheckArrow(times.Finish(), "ts")->data()->Copy();
  time_data->type = time_type;
  auto schema = arrow::schema({arrow::field("k", arrow::int64()), arrow::field("ts", time_type),
                               arrow::field("v", arrow::float64())});
  return arrow::RecordBatch::Make(schema, in.size(),
                                  {CheckArrow(keys.Finish(), "k"), arrow::MakeArray(time_data),
                                   CheckArrow(values.Finish(), "v")});
}

std::vector<AggregateSpec> ReferenceAggregateSpecs() {
  return {{"count", -1, "n"},   {"count", 2, "nv"},  {"sum", 2, "total"}, {"min", 2, "lo"},
          {"max", 2, "hi"},     {"mean", 2, "avg"},  {"first", 2, "first_v"},
          {"last", 2, "last_v"}};
}

// Converts the window bounds of result rows from the time column's unit back to ms.
std::vector<testing::Row> OutputRowsMs(const RunResult& result, int64_t per_ms) {
  auto rows = RowsOf(*result.output);
  for (auto& row : rows) {
    for (int c = 1; c <= 2; ++c) {
      row[c].integer = per_ms == -1000 ? row[c].integer * 1000 : row[c].integer / per_ms;
    }
  }
  return rows;
}

// Late rows come back as input rows: compared as a multiset of (key, time in ms, value).
void ExpectLateRows(const RunResult& result, const InputRows& in, int64_t per_ms,
                    const std::vector<int64_t>& expected_indices) {
  auto actual = RowsOf(*result.late);
  for (auto& row : actual) {
    row[1].integer = per_ms == -1000 ? row[1].integer * 1000 : row[1].integer / per_ms;
  }
  std::vector<testing::Row> expected;
  for (int64_t i : expected_indices) {
    testing::Cell time, value;
    time.integer = in.times_ms[i];
    value.null = !in.values[i].has_value();
    value.is_double = true;
    value.real = in.values[i].value_or(0);
    expected.push_back({testing::KeyCell(in.keys[i]), time, value});
  }
  ExpectSameRows(actual, expected, "late rows");
}

struct Scenario {
  WindowSpec window;
  int64_t lateness_ms;
  int64_t disorder_ms;  // how far rows arrive behind the newest
  int64_t max_delay_ms; // watermark = newest - max_delay
  int64_t max_batch;
  RunOptions run;
  std::shared_ptr<arrow::DataType> time_type = arrow::int64();
};

std::string Describe(const Scenario& s) {
  return "kind " + std::to_string(static_cast<int>(s.window.kind)) + " size " +
         std::to_string(s.window.size_ms) + " slide " + std::to_string(s.window.slide_ms) +
         " gap " + std::to_string(s.window.gap_ms) + " lateness " + std::to_string(s.lateness_ms) +
         " disorder " + std::to_string(s.disorder_ms) + " delay " + std::to_string(s.max_delay_ms) +
         " batch " + std::to_string(s.max_batch) + " P " + std::to_string(s.run.parallelism) + " " +
         s.run.backend + " hot " + std::to_string(s.run.hot_state_bytes) + " " +
         s.time_type->ToString();
}

void CheckAgainstReference(const Scenario& s, int64_t n, int64_t keys, uint64_t seed) {
  SCOPED_TRACE(Describe(s) + " seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  InputRows in = RandomInput(n, keys, 3, s.disorder_ms, random);
  BatchPtr batch = ToBatch(in, s.time_type);
  auto steps = testing::RandomSteps(in.times_ms, s.max_batch, s.max_delay_ms, 0.7, random);
  auto op = MakeWindowAggregate(batch->schema(), {0}, 1, s.window, s.lateness_ms,
                                ReferenceAggregateSpecs());
  RunResult result = RunKeyedOperator(*op, batch, steps, s.run);
  ReferenceResult expected =
      s.window.kind == WindowSpec::Kind::kSession
          ? testing::ReferenceSessions(in, steps, s.window.gap_ms, s.lateness_ms)
          : testing::ReferenceSlices(in, steps, s.window.size_ms,
                                     s.window.kind == WindowSpec::Kind::kTumbling ? s.window.size_ms
                                                                                : s.window.slide_ms,
                                     s.window.offset_ms, s.lateness_ms);
  int64_t per_ms = s.time_type->id() == arrow::Type::TIMESTAMP
                       ? TimestampUnitsPerMs(static_cast<const arrow::TimestampType&>(*s.time_type).unit())
                       : 1;
  ExpectSameRows(OutputRowsMs(result, per_ms), expected.output, "window results");
  ExpectLateRows(result, in, per_ms, expected.late_rows);
  EXPECT_EQ(result.rows_late, static_cast<int64_t>(expected.late_rows.size()));
  EXPECT_EQ(result.state_entries_after, 0);
}

WindowSpec Tumbling(int64_t size, int64_t offset = 0) {
  WindowSpec w;
  w.kind = WindowSpec::Kind::kTumbling;
  w.size_ms = size;
  w.offset_ms = offset;
  return w;
}
WindowSpec Sliding(int64_t size, int64_t slide, int64_t offset = 0) {
  WindowSpec w;
  w.kind = WindowSpec::Kind::kSliding;
  w.size_ms = size;
  w.slide_ms = slide;
  w.offset_ms = offset;
  return w;
}
WindowSpec SessionGap(int64_t gap) {
  WindowSpec w;
  w.kind = WindowSpec::Kind::kSession;
  w.gap_ms = gap;
  return w;
}

// Random scenarios of one window kind: lateness or not, small and large disorder, batch sizes
// from 1 row up, P 1..3, both backends, and hot budgets small enough to write state back.
void RunRandomScenarios(const std::vector<WindowSpec>& windows, int count, uint64_t seed) {
  std::mt19937_64 random(seed);
  auto pick = [&](std::vector<int64_t> options) {
    return options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(random)];
  };
  for (int i = 0; i < count; ++i) {
    Scenario s;
    s.window = windows[i % windows.size()];
    s.lateness_ms = pick({0, 0, 40, 300});
    s.disorder_ms = pick({0, 30, 200});
    s.max_delay_ms = pick({0, 20, 100, 400});
    s.max_batch = pick({1, 7, 64, 1000, 100000});
    s.run.parallelism = static_cast<int>(pick({1, 2, 3}));
    s.run.backend = i % 2 == 0 ? "memory" : "rocksdb";
    s.run.hot_state_bytes = pick({-1, -1, 0, 20000});
    s.time_type = i % 3 == 0   ? arrow::timestamp(arrow::TimeUnit::MICRO)
                  : i % 3 == 1 ? arrow::int64()
                               : arrow::timestamp(arrow::TimeUnit::MILLI, "UTC");
    int64_t n = s.max_batch == 1 ? 600 : 3000;
    CheckAgainstReference(s, n, pick({1, 5, 40}), random());
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(WindowAggregate, TumblingMatchesReference) {
  RunRandomScenarios({Tumbling(100), Tumbling(250, 30), Tumbling(37, -5)}, 36, 1);
}

TEST(WindowAggregate, SlidingMatchesReference) {
  RunRandomScenarios({Sliding(100, 20), Sliding(90, 60, 7), Sliding(50, 50), Sliding(120, 7)}, 36,
                     2);
}

TEST(WindowAggregate, SessionMatchesReference) {
  RunRandomScenarios({SessionGap(10), SessionGap(40), SessionGap(3)}, 36, 3);
}

// With no late rows, sessions are simply the runs of a key's rows whose times are at most the
// gap apart: a reference that shares nothing with the incremental merging.
TEST(WindowAggregate, SessionsOfInOrderInputAreGapSplitRuns) {
  std::mt19937_64 random(11);
  InputRows in = RandomInput(4000, 30, 2, 40, random);
  BatchPtr batch = ToBatch(in, arrow::int64());
  const int64_t gap = 25;
  // Watermarks lag far enough that no row is ever behind them.
  auto steps = testing::RandomSteps(in.times_ms, 100, 41, 0.5, random);
  std::map<std::optional<int64_t>, std::vector<int64_t>> by_key;
  for (int64_t i = 0; i < in.size(); ++i) by_key[in.keys[i]].push_back(i);
  std::vector<testing::Row> expected;
  for (auto& [key, rows] : by_key) {
    std::stable_sort(rows.begin(), rows.end(),
                     [&](int64_t a, int64_t b) { return in.times_ms[a] < in.times_ms[b]; });
    std::vector<int64_t> run;
    auto close = [&] {
      int64_t start = in.times_ms[run.front()], end = in.times_ms[run.back()] + gap;
      std::sort(run.begin(), run.end());
      expected.push_back(testing::ResultRow(key, start, end, testing::ReferenceAggregates(in, run), false, false));
      run.clear();
    };
    for (int64_t r : rows) {
      if (!run.empty() && in.times_ms[r] - in.times_ms[run.back()] > gap) close();
      run.push_back(r);
    }
    close();
  }
  for (int parallelism : {1, 3}) {
    RunOptions options;
    options.parallelism = parallelism;
    auto op = MakeWindowAggregate(batch->schema(), {0}, 1, SessionGap(gap), 0,
                                  ReferenceAggregateSpecs());
    RunResult result = RunKeyedOperator(*op, batch, steps, options);
    EXPECT_EQ(result.rows_late, 0);
    ExpectSameRows(RowsOf(*result.output), expected, "sessions");
  }
}

// Every input row is either counted in exactly one final window result or is a late row.
TEST(WindowAggregate, TumblingConservesRowCounts) {
  for (int64_t lateness : {0, 150}) {
    std::mt19937_64 random(5 + lateness);
    InputRows in = RandomInput(20000, 50, 1, 300, random);
    BatchPtr batch = ToBatch(in, arrow::int64());
    auto steps = testing::RandomSteps(in.times_ms, 500, 50, 0.8, random);
    auto op = MakeWindowAggregate(batch->schema(), {0}, 1, Tumbling(100), lateness,
                                  {{"count", -1, "n"}});
    RunResult result = RunKeyedOperator(*op, batch, steps, RunOptions{});
    auto rows = RowsOf(*result.output);
    // The last emission of a window holds its final count.
    std::map<std::tuple<bool, int64_t, int64_t>, int64_t> final_counts;
    for (const auto& row : rows) final_counts[{row[0].null, row[0].integer, row[2].integer}] = row[3].integer;
    int64_t counted = 0;
    for (const auto& [window, count] : final_counts) counted += count;
    EXPECT_GT(result.rows_late, 0);
    EXPECT_EQ(counted + result.rows_late, in.size()) << "lateness " << lateness;
    EXPECT_EQ(result.late->num_rows(), result.rows_late);
  }
}

// The same input gives the same results, row for row as a multiset, for every parallelism,
// batch size, state backend and hot-state budget.
TEST(WindowAggregate, ResultsDoNotDependOnHowTheRunIsCut) {
  std::mt19937_64 random(21);
  InputRows in = RandomInput(6000, 200, 2, 100, random);
  BatchPtr batch = ToBatch(in, arrow::int64());
  for (WindowSpec window : {Tumbling(60), Sliding(60, 20), SessionGap(15)}) {
    auto op = MakeWindowAggregate(batch->schema(), {0}, 1, window, 50, ReferenceAggregateSpecs());
    std::vector<testing::Row> first;
    int variant = 0;
    for (int64_t max_batch : {1, 13, 65536}) {
      for (int parallelism : {1, 2}) {
        for (const char* backend : {"memory", "rocksdb"}) {
          // The same watermarks at the same rows for every batch size: a watermark after every
          // 50 rows, then the batches cut at random within those.
          std::vector<Step> steps;
          std::mt19937_64 cut(7);
          int64_t newest = INT64_MIN;
          for (int64_t offset = 0; offset < in.size(); offset += 50) {
            int64_t end = std::min<int64_t>(offset + 50, in.size());
            for (int64_t at = offset; at < end;) {
              int64_t length = std::min<int64_t>(end - at, std::uniform_int_distribution<int64_t>(1, max_batch)(cut));
              steps.push_back(Step{at, length});
              at += length;
            }
            for (int64_t i = offset; i < end; ++i) newest = std::max(newest, in.times_ms[i]);
            steps.push_back(Step{0, 0, true, newest - 30});
          }
          RunOptions options;
          options.parallelism = parallelism;
          options.backend = backend;
          options.hot_state_bytes = variant++ % 3 == 2 ? 4096 : -1;
          auto rows = RowsOf(*RunKeyedOperator(*op, batch, steps, options).output);
          std::sort(rows.begin(), rows.end());
          if (first.empty()) {
            first = rows;
            ASSERT_FALSE(first.empty());
            continue;
          }
          ExpectSameRows(rows, first, std::string("batch ") + std::to_string(max_batch) + " P " +
                                          std::to_string(parallelism) + " " + backend);
        }
      }
    }
  }
}

// Live windows stay bounded over a long run when the watermark keeps up: state is dropped once
// the watermark passes end + lateness.
TEST(WindowAggregate, StateIsCleanedAsTheWatermarkAdvances) {
  std::mt19937_64 random(8);
  InputRows in = RandomInput(200000, 100, 1, 50, random);  // 200 s of event time
  BatchPtr batch = ToBatch(in, arrow::int64());
  auto steps = testing::RandomSteps(in.times_ms, 1000, 60, 1.0, random);
  for (WindowSpec window : {Tumbling(1000), Sliding(1000, 250), SessionGap(30)}) {
    auto op = MakeWindowAggregate(batch->schema(), {0}, 1, window, 500, {{"count", -1, "n"}});
    int64_t most = 0;
    RunResult result = RunKeyedOperator(*op, batch, steps, RunOptions{},
                                        [&](const OperatorMetrics& m) { most = std::max<int64_t>(most, m.state_entries); });
    // 101 keys (with the null key); at most ~3 s of event time is live (1 s window, 0.5 s
    // lateness, delay and disorder): a few windows or panes per key, never the 200 s of input.
    EXPECT_GT(most, 50);
    EXPECT_LT(most, 101 * 12) << "kind " << static_cast<int>(window.kind);
    EXPECT_EQ(result.state_entries_after, 0);
  }
}

// State about four times the hot budget and the RocksDB cache: groups are written back to
// RocksDB and read back, and the results equal the all-in-memory run.
TEST(WindowAggregate, StateLargerThanTheCacheWorksWithRocksDb) {
  std::mt19937_64 random(9);
  // 80k key values drawn 80k times in each of two 1-hour windows: ~100k live groups of ~190
  // bytes with their table entries (~19 MB), against 3 MB of hot budget and 3 MB of cache.
  InputRows in = RandomInput(160000, 80000, 0, 0, random);
  for (int64_t i = 0; i < in.size(); ++i) in.times_ms[i] = 3'600'000 * (i * 2 / in.size()) + i % 1000;
  BatchPtr batch = ToBatch(in, arrow::int64());
  std::vector<Step> steps;
  for (int64_t offset = 0; offset < in.size(); offset += 8192) {
    steps.push_back(Step{offset, std::min<int64_t>(8192, in.size() - offset)});
  }
  std::vector<AggregateSpec> aggregates = {{"count", -1, "n"}, {"sum", 2, "total"},
                                           {"max", 2, "hi"}, {"last", 2, "last_v"}};
  for (WindowSpec window : {Tumbling(3'600'000), SessionGap(1000)}) {
    auto op = MakeWindowAggregate(batch->schema(), {0}, 1, window, 0, aggregates);
    RunOptions memory;
    auto expected = RowsOf(*RunKeyedOperator(*op, batch, steps, memory).output);
    RunOptions rocksdb;
    rocksdb.backend = "rocksdb";
    rocksdb.cache_bytes = 3 << 20;
    rocksdb.hot_state_bytes = 3 << 20;
    int64_t most = 0;
    RunResult result = RunKeyedOperator(*op, batch, steps, rocksdb,
                                        [&](const OperatorMetrics& m) { most = std::max<int64_t>(most, m.state_entries); });
    EXPECT_GT(most, 90000);  // the live state really was that large
    ExpectSameRows(RowsOf(*result.output), expected, "rocksdb vs memory");
  }
}

TEST(WindowAggregate, OutputSchemaAndTypes) {
  auto schema = arrow::schema({arrow::field("user", arrow::utf8()), arrow::field("n", arrow::int32()),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO, "UTC")),
                               arrow::field("x", arrow::float32())});
  auto op = MakeWindowAggregate(schema, {0, 1}, 2, Tumbling(1000), 0,
                                {{"count", -1, "c"}, {"sum", 1, "s"}, {"max", 3, "m"},
                                 {"collect_list", 0, "users"}});
  auto out = op->output_schema(0);
  ASSERT_EQ(out->num_fields(), 8);
  EXPECT_EQ(out->field(0)->name(), "user");
  EXPECT_TRUE(out->field(1)->type()->Equals(arrow::int32()));
  EXPECT_EQ(out->field(2)->name(), "window_start");
  EXPECT_TRUE(out->field(3)->type()->Equals(arrow::timestamp(arrow::TimeUnit::NANO, "UTC")));
  EXPECT_TRUE(out->field(4)->type()->Equals(arrow::int64()));
  EXPECT_TRUE(out->field(5)->type()->Equals(arrow::int64()));
  EXPECT_TRUE(out->field(6)->type()->Equals(arrow::float32()));
  EXPECT_TRUE(out->field(7)->type()->Equals(arrow::list(arrow::utf8())));
  EXPECT_TRUE(op->output_schema(1)->Equals(*schema));
  EXPECT_EQ(op->num_ports(), 2);
  auto late = MakeWindowAggregate(schema, {0}, 2, Tumbling(1000), 10, {{"count", -1, "c"}});
  EXPECT_EQ(late->output_schema(0)->field(4)->name(), "is_update");
}

TEST(WindowAggregate, RejectsBadPlansWithClearErrors) {
  auto schema = arrow::schema({arrow::field("k", arrow::int64()), arrow::field("ts", arrow::int64()),
                               arrow::field("s", arrow::utf8()), arrow::field("d", arrow::float64())});
  auto expect_error = [&](auto make, const std::string& fragment) {
    try {
      make();
      ADD_FAILURE() << "no error; expected one containing '" << fragment << "'";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error([&] { MakeWindowAggregate(schema, {0}, 1, Tumbling(0), 0, {{"count", -1, "n"}}); },
               "size must be positive");
  expect_error([&] { MakeWindowAggregate(schema, {0}, 1, Sliding(10, 20), 0, {{"count", -1, "n"}}); },
               "slide");
  expect_error([&] { MakeWindowAggregate(schema, {0}, 1, SessionGap(0), 0, {{"count", -1, "n"}}); },
               "gap must be positive");
  expect_error([&] { MakeWindowAggregate(schema, {0}, 2, Tumbling(10), 0, {{"count", -1, "n"}}); },
               "time column 's'");
  expect_error([&] { MakeWindowAggregate(schema, {0}, 1, Tumbling(10), 0, {{"sum", 2, "total"}}); },
               "column 's' has type string");
  expect_error([&] { MakeWindowAggregate(schema, {0}, 1, Tumbling(10), 0, {{"median", 3, "m"}}); },
               "unknown aggregate kind");
  expect_error([&] { MakeWindowAggregate(schema, {0}, 1, Tumbling(10), 0, {{"sum", 3, "k"}}); },
               "'k' appears twice");
  expect_error([&] { MakeWindowAggregate(schema, {0}, 1, Tumbling(10), -1, {{"count", -1, "n"}}); },
               "lateness");
  EXPECT_THROW(MakeWindowAggregate(schema, {0}, 1, Tumbling(10), 0, {{"sum", 2, "t"}}), UserTypeError);
}

TEST(WindowAggregate, NullEventTimeIsAUserError) {
  auto schema = arrow::schema({arrow::field("k", arrow::int64()), arrow::field("ts", arrow::int64())});
  arrow::Int64Builder k, ts;
  CheckArrow(k.AppendValues({1, 2}), "k");
  CheckArrow(ts.Append(5), "ts");
  CheckArrow(ts.AppendNull(), "ts");
  auto batch = arrow::RecordBatch::Make(schema, 2, {CheckArrow(k.Finish(), "k"), CheckArrow(ts.Finish(), "ts")});
  auto op = MakeWindowAggregate(schema, {0}, 1, Tumbling(10), 0, {{"count", -1, "n"}});
  try {
    RunKeyedOperator(*op, batch, {Step{0, 2}}, RunOptions{});
    ADD_FAILURE() << "a null event time was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("time column 'ts' is null at row 1"), std::string::npos) << e.what();
  }
}

// Multi-column keys of other types take the encoded-key path; checked against the int64 path by
// running the same data keyed by (string of k, k) and by k.
TEST(WindowAggregate, MultiColumnStringKeysMatchTheInt64Path) {
  std::mt19937_64 random(31);
  InputRows in = RandomInput(5000, 60, 3, 100, random);
  BatchPtr batch = ToBatch(in, arrow::int64());
  arrow::StringBuilder names;
  for (const auto& key : in.keys) {
    CheckArrow(key ? names.Append("user-" + std::to_string(*key)) : names.AppendNull(), "name");
  }
  auto with_names = CheckArrow(batch->AddColumn(3, "name", CheckArrow(names.Finish(), "name")), "add");
  auto steps = testing::RandomSteps(in.times_ms, 300, 60, 0.5, random);
  for (WindowSpec window : {Tumbling(100), Sliding(100, 25), SessionGap(20)}) {
    auto by_int = MakeWindowAggregate(with_names->schema(), {0}, 1, window, 30, ReferenceAggregateSpecs());
    auto by_both = MakeWindowAggregate(with_names->schema(), {3, 0}, 1, window, 30, ReferenceAggregateSpecs());
    RunOptions options;
    options.parallelism = 2;
    options.backend = "rocksdb";
    options.hot_state_bytes = 8192;
    auto expected = RowsOf(*RunKeyedOperator(*by_int, with_names, steps, RunOptions{}).output);
    auto actual = RowsOf(*RunKeyedOperator(*by_both, with_names, steps, options).output);
    for (auto& row : actual) row.erase(row.begin());  // drop the name column
    ExpectSameRows(actual, expected, "string+int keys");
  }
}

TEST(WindowAggregate, GlobalWindowWithoutKeys) {
  std::mt19937_64 random(41);
  InputRows in = RandomInput(3000, 10, 3, 0, random);
  BatchPtr batch = ToBatch(in, arrow::int64());
  auto op = MakeWindowAggregate(batch->schema(), {}, 1, Tumbling(100), 0, {{"count", -1, "n"}, {"sum", 2, "total"}});
  RunOptions options;
  options.parallelism = 3;
  RunResult result = RunKeyedOperator(*op, batch, {Step{0, in.size()}}, options);
  std::map<int64_t, int64_t> expected;
  for (int64_t t : in.times_ms) ++expected[FloorDiv(t, 100) * 100];
  auto rows = RowsOf(*result.output);
  ASSERT_EQ(rows.size(), expected.size());
  for (const auto& row : rows) EXPECT_EQ(row[2].integer, expected[row[0].integer]) << row[0].integer;
}

TEST(WindowAggregate, ProcessingTimeWindowsFollowTheClock) {
  auto schema = arrow::schema({arrow::field("k", arrow::int64()), arrow::field("v", arrow::int64())});
  int64_t now_ms = 10'005;
  WindowSpec window = Tumbling(10);
  window.processing_time = true;
  auto op = MakeWindowAggregateWithClock(schema, {0}, -1, window, 0,
                                         {{"count", -1, "n"}, {"sum", 1, "total"}}, [&] { return now_ms; });
  EXPECT_TRUE(op->output_schema(0)->field(1)->type()->Equals(arrow::timestamp(arrow::TimeUnit::MILLI)));
  SubtaskContext context;
  StateOptions state_options;
  context.state = MakeStateBackend(state_options, "processing", 0);
  auto state = op->CreateState(std::move(context));
  testing::CollectingEmitter out;
  auto batch_of = [&](std::vector<int64_t> keys) {
    arrow::Int64Builder k, v;
    CheckArrow(k.AppendValues(keys), "k");
    CheckArrow(v.AppendValues(std::vector<int64_t>(keys.size(), 1)), "v");
    return arrow::RecordBatch::Make(schema, static_cast<int64_t>(keys.size()),
                                    {CheckArrow(k.Finish(), "k"), CheckArrow(v.Finish(), "v")});
  };
  std::vector<uint16_t> groups = {0, 0, 0};
  state->OnBatch(batch_of({1, 2, 1}), groups, out);      // window [10000, 10010)
  EXPECT_TRUE(out.ports[0].empty());
  now_ms = 10'012;
  state->OnWatermark(0, out);                           // event-time watermarks are ignored
  ASSERT_EQ(out.ports[0].size(), 1u);
  auto first = RowsOf(*CheckArrow(arrow::Table::FromRecordBatches({out.ports[0][0]}), "t"));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0][1].integer, 10'000);
  EXPECT_EQ(first[0][3].integer, 2);  // key 1 twice
  state->OnBatch(batch_of({3}), {0}, out);                // window [10010, 10020)
  state->OnEnd(out);                                      // bounded input: everything fires
  ASSERT_EQ(out.ports[0].size(), 2u);
  EXPECT_EQ(out.ports[0][1]->num_rows(), 1);
  EXPECT_TRUE(out.ports[1].empty());
}

}  // namespace
}  // namespace millstream
