// Every aggregate on random grouped input with nulls, against results computed directly in the
// test; and the same results after splitting the input, merging the partial states, and after
// a serialise/deserialise round trip (the write-back to the state backend).
#include "ops/aggregate_function.h"

#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/accumulator_rows.h"

namespace millstream {
namespace {

constexpr int kGroups = 9;
constexpr int64_t kRows = 2000;

struct Data {
  std::vector<uint32_t> group;  // per row
  std::vector<int64_t> time_ms;
  std::vector<std::optional<int64_t>> ints;
  std::vector<std::optional<double>> reals;
  std::vector<std::optional<bool>> bools;
  std::vector<std::optional<std::string>> strings;
  BatchPtr batch;  // ints, reals, bools, strings, timestamps (= ints as us)
};

Data MakeData(uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> coin(0, 99), small(-50, 50);
  Data d;
  arrow::Int64Builder ints;
  arrow::DoubleBuilder reals;
  arrow::BooleanBuilder bools;
  arrow::StringBuilder strings;
  arrow::TimestampBuilder stamps(arrow::timestamp(arrow::TimeUnit::MICRO), arrow::default_memory_pool());
  for (int64_t i = 0; i < kRows; ++i) {
    d.group.push_back(static_cast<uint32_t>(coin(random) % kGroups));
    d.time_ms.push_back(small(random) / 5);  // many ties
    // Group 0 holds only nulls: every aggregate's "no value" case.
    bool null = d.group.back() == 0 || coin(random) < 15;
    d.ints.push_back(null ? std::nullopt : std::optional<int64_t>(small(random) * 1000003));
    double real = small(random) * 0.5;
    if (coin(random) < 3) real = -0.0;
    if (coin(random) < 2 && d.group.back() == 5) real = std::nan("");
    d.reals.push_back(null ? std::nullopt : std::optional<double>(real));
    d.bools.push_back(null ? std::nullopt : std::optional<bool>(coin(random) < 40));
    d.strings.push_back(null ? std::nullopt : std::optional<std::string>("s" + std::to_string(small(random) % 7)));
    CheckArrow(null ? ints.AppendNull() : ints.Append(*d.ints.back()), "ints");
    CheckArrow(null ? reals.AppendNull() : reals.Append(*d.reals.back()), "reals");
    CheckArrow(null ? bools.AppendNull() : bools.Append(*d.bools.back()), "bools");
    CheckArrow(null ? strings.AppendNull() : strings.Append(*d.strings.back()), "strings");
    CheckArrow(null ? stamps.AppendNull() : stamps.Append(*d.ints.back()), "stamps");
  }
  auto schema = arrow::schema({arrow::field("i", arrow::int64()), arrow::field("r", arrow::float64()),
                               arrow::field("b", arrow::boolean()), arrow::field("s", arrow::utf8()),
                               arrow::field("t", arrow::timestamp(arrow::TimeUnit::MICRO))});
  d.batch = arrow::RecordBatch::Make(schema, kRows,
                                     {CheckArrow(ints.Finish(), "i"), CheckArrow(reals.Finish(), "r"),
                                      CheckArrow(bools.Finish(), "b"), CheckArrow(strings.Finish(), "s"),
                                      CheckArrow(stamps.Finish(), "t")});
  return d;
}

enum class Mode { kDirect, kMergedHalves, kRoundTrip };

// Runs one aggregate over the data, a group per `Data::group`, and returns one result per group.
std::shared_ptr<arrow::Array> RunAggregate(const Data& d, const AggregateSpec& spec, Mode mode) {
  std::vector<std::unique_ptr<AggregateFunction>> functions;
  functions.push_back(MakeAggregateFunction(spec, *d.batch->schema(), "test"));
  AccumulatorLayout layout(std::move(functions));
  GroupRows rows(layout);
  // Groups g (first half of the rows) and kGroups + g (second half) in kMergedHalves.
  for (int g = 0; g < 2 * kGroups; ++g) rows.Allocate();
  std::vector<uint32_t> group_of_row(kRows);
  for (int64_t i = 0; i < kRows; ++i) {
    group_of_row[i] = d.group[i] + (mode == Mode::kMergedHalves && i >= kRows / 2 ? kGroups : 0);
  }
  int64_t heap_bytes = 0;
  const arrow::Array* input = spec.input_column < 0 ? nullptr : d.batch->column(spec.input_column).get();
  // Uneven chunks: the update must not depend on how a batch is cut.
  for (int64_t begin = 0; begin < kRows;) {
    int64_t end = std::min(kRows, begin + 1 + begin % 333);
    UpdateRows update{group_of_row.data(), begin, end, d.time_ms.data(), 1000, &heap_bytes};
    layout.function(0).Update(input, update, rows.states(0));
    begin = end;
  }
  if (mode == Mode::kMergedHalves) {
    for (int g = 0; g < kGroups; ++g) layout.Merge(rows.row(g), rows.row(kGroups + g), &heap_bytes);
  }
  auto builders = layout.MakeBuilders();
  for (int g = 0; g < kGroups; ++g) {
    if (mode == Mode::kRoundTrip) {
      std::string bytes;
      layout.Serialize(rows.row(g), &bytes);
      uint32_t copy = rows.Allocate();
      layout.Deserialize(bytes, rows.row(copy), &heap_bytes);
      layout.Finalize(rows.row(copy), builders);
      rows.Free(copy, &heap_bytes);
    } else {
      layout.Finalize(rows.row(g), builders);
    }
  }
  for (int g = 0; g < 2 * kGroups; ++g) rows.Free(g, &heap_bytes);
  EXPECT_EQ(heap_bytes, 0) << "heap accounting of " << spec.kind;
  return CheckArrow(builders[0]->Finish(), "result");
}

// Rows of each group, in arrival order.
std::vector<std::vector<int64_t>> RowsByGroup(const Data& d) {
  std::vector<std::vector<int64_t>> groups(kGroups);
  for (int64_t i = 0; i < kRows; ++i) groups[d.group[i]].push_back(i);
  return groups;
}

void ExpectResult(const Data& d, const AggregateSpec& spec, const std::shared_ptr<arrow::Array>& expected) {
  for (Mode mode : {Mode::kDirect, Mode::kMergedHalves, Mode::kRoundTrip}) {
    auto actual = RunAggregate(d, spec, mode);
    auto options = arrow::EqualOptions::Defaults().nans_equal(true).atol(1e-9);
    EXPECT_TRUE(actual->type()->Equals(expected->type())) << spec.kind << ": " << actual->type()->ToString();
    EXPECT_TRUE(actual->ApproxEquals(*expected, options))
        << spec.kind << " of column " << spec.input_column << " mode " << static_cast<int>(mode)
        << "\nactual:   " << actual->ToString() << "\nexpected: " << expected->ToString();
  }
}

// The value a group's rows reduce to with `pick(best_so_far_row, row) -> row`, or null.
template <typename Values, typename Better>
std::vector<int64_t> PickRows(const Data& d, const Values& values, Better better) {
  std::vector<int64_t> picked;
  for (const auto& rows : RowsByGroup(d)) {
    int64_t best = -1;
    for (int64_t r : rows) {
      if (values[r] && (best < 0 || better(r, best))) best = r;
    }
    picked.push_back(best);
  }
  return picked;
}

bool RealLess(double a, double b) {  // NaN above everything
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return a < b;
}

TEST(AggregateFunction, CountsRowsAndValues) {
  Data d = MakeData(1);
  arrow::Int64Builder rows, values;
  for (const auto& group : RowsByGroup(d)) {
    CheckArrow(rows.Append(static_cast<int64_t>(group.size())), "rows");
    int64_t n = 0;
    for (int64_t r : group) n += d.reals[r].has_value();
    CheckArrow(values.Append(n), "values");
  }
  ExpectResult(d, {"count", -1, "n"}, CheckArrow(rows.Finish(), "rows"));
  ExpectResult(d, {"count", 1, "n"}, CheckArrow(values.Finish(), "values"));
}

TEST(AggregateFunction, SumMeanVarianceOfNumbers) {
  Data d = MakeData(2);
  arrow::Int64Builder int_sums, bool_sums;
  arrow::DoubleBuilder real_sums, means, vars, stddevs;
  for (const auto& group : RowsByGroup(d)) {
    int64_t int_sum = 0, trues = 0, n = 0;
    double real_sum = 0;
    std::vector<double> xs;
    for (int64_t r : group) {
      if (!d.ints[r]) continue;
      ++n;
      int_sum += *d.ints[r];
      trues += *d.bools[r];
      real_sum += *d.reals[r];
      xs.push_back(static_cast<double>(*d.ints[r]));
    }
    if (n == 0) {
      for (auto* b : {&int_sums, &bool_sums}) CheckArrow(b->AppendNull(), "null");
      for (auto* b : {&real_sums, &means, &vars, &stddevs}) CheckArrow(b->AppendNull(), "null");
      continue;
    }
    CheckArrow(int_sums.Append(int_sum), "sum");
    CheckArrow(bool_sums.Append(trues), "sum");
    CheckArrow(real_sums.Append(real_sum), "sum");
    double mean = 0;
    for (double x : xs) mean += x;
    mean /= static_cast<double>(xs.size());
    CheckArrow(means.Append(mean), "mean");
    if (xs.size() < 2) {
      CheckArrow(vars.AppendNull(), "var");
      CheckArrow(stddevs.AppendNull(), "std");
      continue;
    }
    double squares = 0;
    for (double x : xs) squares += (x - mean) * (x - mean);
    double var = squares / static_cast<double>(xs.size() - 1);  // ddof = 1, as pandas
    CheckArrow(vars.Append(var), "var");
    CheckArrow(stddevs.Append(std::sqrt(var)), "std");
  }
  ExpectResult(d, {"sum", 0, "x"}, CheckArrow(int_sums.Finish(), "sum"));
  ExpectResult(d, {"sum", 2, "x"}, CheckArrow(bool_sums.Finish(), "sum"));
  auto real_sum_array = CheckArrow(real_sums.Finish(), "sum");
  // NaN in group 5 propagates through the sum, like pandas with skipna=False and SQL.
  ExpectResult(d, {"sum", 1, "x"}, real_sum_array);
  ExpectResult(d, {"mean", 0, "x"}, CheckArrow(means.Finish(), "mean"));
  // Relative tolerance for the variance of values around 5e7.
  auto var_expected = CheckArrow(vars.Finish(), "var");
  auto var_actual = RunAggregate(d, {"var", 0, "x"}, Mode::kMergedHalves);
  for (int64_t g = 0; g < kGroups; ++g) {
    ASSERT_EQ(var_actual->IsNull(g), var_expected->IsNull(g));
    if (var_actual->IsNull(g)) continue;
    double a = static_cast<const arrow::DoubleArray&>(*var_actual).Value(g);
    double e = static_cast<const arrow::DoubleArray&>(*var_expected).Value(g);
    EXPECT_NEAR(a, e, 1e-9 * e) << "group " << g;
  }
  auto std_actual = RunAggregate(d, {"stddev", 0, "x"}, Mode::kRoundTrip);
  auto std_expected = CheckArrow(stddevs.Finish(), "std");
  EXPECT_TRUE(std_actual->ApproxEquals(*std_expected, arrow::EqualOptions::Defaults().atol(1e-3)))
      << std_actual->ToString() << "\n" << std_expected->ToString();
}

TEST(AggregateFunction, SumOverflowIsAUserError) {
  auto schema = arrow::schema({arrow::field("i", arrow::int64())});
  arrow::Int64Builder values;
  CheckArrow(values.AppendValues({INT64_MAX, 1}), "i");
  auto batch = arrow::RecordBatch::Make(schema, 2, {CheckArrow(values.Finish(), "i")});
  std::vector<std::unique_ptr<AggregateFunction>> functions;
  functions.push_back(MakeAggregateFunction({"sum", 0, "total"}, *schema, "test"));
  AccumulatorLayout layout(std::move(functions));
  GroupRows rows(layout);
  rows.Allocate();
  std::vector<uint32_t> groups = {0, 0};
  int64_t heap = 0;
  UpdateRows update{groups.data(), 0, 2, nullptr, 0, &heap};
  EXPECT_THROW(layout.function(0).Update(batch->column(0).get(), update, rows.states(0)), UserError);
}

// Each column of MakeData's batch with the order of its values (by row).
struct ColumnOrder {
  int column;
  std::function<bool(int64_t, int64_t)> less;
};
std::vector<ColumnOrder> ColumnOrders(const Data& d) {
  return {
      {0, [&d](int64_t a, int64_t b) { return *d.ints[a] < *d.ints[b]; }},
      {1, [&d](int64_t a, int64_t b) { return RealLess(*d.reals[a], *d.reals[b]); }},
      {2, [&d](int64_t a, int64_t b) { return *d.bools[a] < *d.bools[b]; }},
      {3, [&d](int64_t a, int64_t b) { return *d.strings[a] < *d.strings[b]; }},
      {4, [&d](int64_t a, int64_t b) { return *d.ints[a] < *d.ints[b]; }},
  };
}

TEST(AggregateFunction, MinMaxOfEveryType) {
  Data d = MakeData(3);
  for (const ColumnOrder& c : ColumnOrders(d)) {
    auto min_rows = PickRows(d, d.ints, [&](int64_t r, int64_t best) { return c.less(r, best); });
    auto max_rows = PickRows(d, d.ints, [&](int64_t r, int64_t best) { return c.less(best, r); });
    auto column = d.batch->column(c.column);
    auto take = [&](const std::vector<int64_t>& picked) {
      arrow::Int64Builder indices;
      for (int64_t r : picked) CheckArrow(r < 0 ? indices.AppendNull() : indices.Append(r), "idx");
      return CheckArrow(arrow::compute::Take(*column, *CheckArrow(indices.Finish(), "idx")), "take");
    };
    ExpectResult(d, {"min", c.column, "lo"}, take(min_rows));
    ExpectResult(d, {"max", c.column, "hi"}, take(max_rows));
  }
}

TEST(AggregateFunction, FirstAndLastByEventTimeThenValue) {
  Data d = MakeData(4);
  for (const ColumnOrder& c : ColumnOrders(d)) {
    // Earliest time, ties to the smallest value; latest time, ties to the largest value.
    auto first = PickRows(d, d.ints, [&](int64_t r, int64_t best) {
      return d.time_ms[r] != d.time_ms[best] ? d.time_ms[r] < d.time_ms[best] : c.less(r, best);
    });
    auto last = PickRows(d, d.ints, [&](int64_t r, int64_t best) {
      return d.time_ms[r] != d.time_ms[best] ? d.time_ms[r] > d.time_ms[best] : c.less(best, r);
    });
    auto take = [&](const std::vector<int64_t>& picked) {
      arrow::Int64Builder indices;
      for (int64_t r : picked) CheckArrow(r < 0 ? indices.AppendNull() : indices.Append(r), "idx");
      return CheckArrow(arrow::compute::Take(*d.batch->column(c.column), *CheckArrow(indices.Finish(), "idx")), "take");
    };
    ExpectResult(d, {"first", c.column, "f"}, take(first));
    ExpectResult(d, {"last", c.column, "l"}, take(last));
  }
}

TEST(AggregateFunction, CountDistinctTreatsZerosAndNaNsAsOneValue) {
  Data d = MakeData(5);
  for (int column = 0; column < 5; ++column) {
    arrow::Int64Builder expected;
    for (const auto& rows : RowsByGroup(d)) {
      std::set<std::string> seen;
      for (int64_t r : rows) {
        if (!d.ints[r]) continue;
        switch (column) {
          case 0: case 4: seen.insert(std::to_string(*d.ints[r])); break;
          case 1: seen.insert(std::isnan(*d.reals[r]) ? "nan" : std::to_string(*d.reals[r] + 0.0)); break;
          case 2: seen.insert(*d.bools[r] ? "t" : "f"); break;
          case 3: seen.insert(*d.strings[r]); break;
        }
      }
      CheckArrow(expected.Append(static_cast<int64_t>(seen.size())), "n");
    }
    ExpectResult(d, {"count_distinct", column, "n"}, CheckArrow(expected.Finish(), "n"));
  }
}

TEST(AggregateFunction, CollectListKeepsArrivalOrder) {
  Data d = MakeData(6);
  for (int column = 0; column < 5; ++column) {
    auto type = d.batch->schema()->field(column)->type();
    auto builder = CheckArrow(arrow::MakeBuilder(arrow::list(type)), "list");
    auto& lists = static_cast<arrow::ListBuilder&>(*builder);
    for (const auto& rows : RowsByGroup(d)) {
      std::vector<int64_t> present;
      for (int64_t r : rows) if (d.ints[r]) present.push_back(r);
      if (present.empty()) {
        CheckArrow(lists.AppendNull(), "null");
        continue;
      }
      CheckArrow(lists.Append(), "list");
      for (int64_t r : present) {
        auto scalar = CheckArrow(d.batch->column(column)->GetScalar(r), "scalar");
        CheckArrow(lists.value_builder()->AppendScalar(*scalar), "value");
      }
    }
    ExpectResult(d, {"collect_list", column, "all"}, CheckArrow(builder->Finish(), "list"));
  }
}

TEST(AggregateFunction, RejectsWrongTypesAndKinds) {
  Data d = MakeData(7);
  const auto& schema = *d.batch->schema();
  EXPECT_THROW(MakeAggregateFunction({"sum", 3, "x"}, schema, "op"), UserTypeError);
  EXPECT_THROW(MakeAggregateFunction({"mean", 4, "x"}, schema, "op"), UserTypeError);
  EXPECT_THROW(MakeAggregateFunction({"median", 0, "x"}, schema, "op"), UserError);
  EXPECT_THROW(MakeAggregateFunction({"max", 9, "x"}, schema, "op"), UserError);
  EXPECT_THROW(MakeAggregateFunction({"max", -1, "x"}, schema, "op"), UserError);
  auto lists = arrow::schema({arrow::field("l", arrow::list(arrow::int64()))});
  try {
    MakeAggregateFunction({"min", 0, "lo"}, *lists, "window aggregation");
    ADD_FAILURE() << "min of a list column was accepted";
  } catch (const UserTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("aggregate 'lo' (min): column 'l' has type list"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(MakeAggregateFunction({"count", 0, "n"}, *lists, "op"));
}

}  // namespace
}  // namespace millstream
