#include "expr/expression.h"

#include <arrow/compute/api_vector.h>

#include "core/key_groups.h"
#include "expr/bound_node.h"
#include "expr/kernel_support.h"
#include "expr/row_selection.h"
#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

// A batch with every column kind the gathers handle by hand, plus one they hand to Arrow (list).
BatchPtr MixedBatch(std::mt19937_64& rng, int64_t rows) {
  std::vector<std::optional<int64_t>> ints;
  std::vector<std::optional<double>> floats;
  auto a = RandomInt64(rng, rows, -100, 100, 0.1, &ints);
  auto f = RandomDouble(rng, rows, -1, 1, 0.1, &floats);
  arrow::StringBuilder strings;
  arrow::LargeStringBuilder large_strings;
  arrow::BooleanBuilder bools;
  arrow::Int32Builder small_ints;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), arrow::default_memory_pool());
  arrow::ListBuilder lists(arrow::default_memory_pool(), std::make_shared<arrow::Int64Builder>());
  auto* list_values = static_cast<arrow::Int64Builder*>(lists.value_builder());
  std::uniform_int_distribution<int> small(0, 9);
  for (int64_t i = 0; i < rows; ++i) {
    bool null = small(rng) == 0;
    // lengths 1..28 bytes: both sides of the 16-byte short-string copy
    std::string text = std::string(static_cast<size_t>(small(rng) * 3), static_cast<char>('a' + small(rng))) + "é";
    EXPECT_TRUE((null ? strings.AppendNull() : strings.Append(text)).ok());
    EXPECT_TRUE((null ? large_strings.AppendNull() : large_strings.Append(text)).ok());
    EXPECT_TRUE((small(rng) == 0 ? bools.AppendNull() : bools.Append(small(rng) < 5)).ok());
    EXPECT_TRUE(small_ints.Append(small(rng)).ok());
    EXPECT_TRUE((null ? times.AppendNull() : times.Append(i * 1000)).ok());
    EXPECT_TRUE(lists.Append().ok());
    EXPECT_TRUE(list_values->Append(i).ok());
  }
  std::shared_ptr<arrow::Array> strings_copy = *strings.Finish();
  expr::EnsureComputeInitialized();
  return MakeBatch({{"a", a}, {"f", f}, {"s", strings_copy}, {"ls", *large_strings.Finish()},
                    {"flag", *bools.Finish()}, {"i32", *small_ints.Finish()}, {"t", *times.Finish()},
                    {"list", *lists.Finish()}, {"view", *arrow::compute::Cast(*strings_copy, arrow::utf8_view())}});
}

// Reference: Arrow's own Filter with a mask where null counts as false (Arrow 26 cannot filter
// string_view, so those columns go through string and back).
BatchPtr ReferenceFilter(const BatchPtr& batch, const std::shared_ptr<arrow::Array>& mask) {
  expr::EnsureComputeInitialized();
  arrow::ArrayVector columns;
  for (const auto& column : batch->columns()) {
    bool view = column->type_id() == arrow::Type::STRING_VIEW;
    auto input = view ? *arrow::compute::Cast(*column, arrow::utf8()) : column;
    auto filtered = arrow::compute::Filter(input, mask, arrow::compute::FilterOptions(arrow::compute::FilterOptions::DROP));
    EXPECT_TRUE(filtered.ok()) << filtered.status().ToString();
    auto array = filtered->make_array();
    columns.push_back(view ? *arrow::compute::Cast(*array, arrow::utf8_view()) : array);
  }
  int64_t rows = columns.empty() ? 0 : columns[0]->length();
  return arrow::RecordBatch::Make(batch->schema(), rows, columns);
}

void ExpectBatchesEqual(const BatchPtr& expected, const BatchPtr& actual) {
  ASSERT_EQ(expected->num_rows(), actual->num_rows());
  ASSERT_TRUE(actual->ValidateFull().ok()) << actual->ValidateFull().ToString();
  for (int i = 0; i < expected->num_columns(); ++i) {
    EXPECT_TRUE(expected->column(i)->Equals(*actual->column(i), arrow::EqualOptions().nans_equal(true)))
        << expected->schema()->field(i)->name();
  }
}

TEST(FilterBatch, MatchesArrowFilterOnRandomBatches) {
  std::mt19937_64 rng(3);
  for (int64_t rows : {0, 1, 63, 64, 65, 1000, 4097}) {
    auto batch = MixedBatch(rng, rows);
    std::vector<std::string> predicates = {
        Call("gt", {Col("a"), Lit(0)}),                                  // fused, int vs const, nulls
        Call("le", {LitF(0.25), Col("f")}),                              // fused, const vs float
        Call("lt", {Col("a"), Col("f")}),                                // fused, int vs float columns
        Call("and", {Call("gt", {Col("a"), Lit(-50)}), Col("flag")}),    // via a bool column with nulls
        Col("flag"),                                                     // bool column itself
        Call("str.contains", {Col("s")}, "\"pattern\":\"bb\",\"literal\":true"),
        LitB(true), LitB(false), LitNull()};
    for (const auto& predicate_json : predicates) {
      SCOPED_TRACE(ExpressionToString(predicate_json) + " over " + std::to_string(rows) + " rows");
      auto predicate = CompilePredicate(predicate_json, *batch->schema());
      auto mask = predicate->Evaluate(*batch);
      if (mask->type_id() == arrow::Type::NA) mask = *arrow::MakeArrayOfNull(arrow::boolean(), rows);
      ExpectBatchesEqual(ReferenceFilter(batch, mask), FilterBatch(batch, *predicate));
    }
  }
}

TEST(FilterBatch, SlicedInputAndZeroCopyWhenAllPass) {
  std::mt19937_64 rng(5);
  auto batch = MixedBatch(rng, 300)->Slice(13, 250);  // offsets not multiples of 8
  auto predicate = CompilePredicate(Call("ge", {Col("a"), Lit(0)}), *batch->schema());
  ExpectBatchesEqual(ReferenceFilter(batch, predicate->Evaluate(*batch)), FilterBatch(batch, *predicate));
  auto all = CompilePredicate(Call("ge", {Col("i32"), Lit(0)}), *batch->schema());
  EXPECT_EQ(FilterBatch(batch, *all).get(), batch.get());
  auto none = CompilePredicate(Call("lt", {Col("i32"), Lit(0)}), *batch->schema());
  auto empty = FilterBatch(batch, *none);
  EXPECT_EQ(empty->num_rows(), 0);
  EXPECT_TRUE(empty->schema()->Equals(*batch->schema()));
}

TEST(FilterBatch, FusedAndUnfusedSelectionsAgree) {
  std::mt19937_64 rng(11);
  auto batch = MixedBatch(rng, 2000);
  for (const auto& fn : {"eq", "ne", "lt", "le", "gt", "ge"}) {
    auto predicate = CompilePredicate(Call(fn, {Col("a"), Lit(3)}), *batch->schema());
    expr::RowSelection fused = predicate->root().Select(*batch);
    expr::RowSelection from_mask = expr::SelectionFromMask(*predicate->Evaluate(*batch));
    ASSERT_EQ(fused.count, from_mask.count) << fn;
    for (int64_t k = 0; k < fused.count; ++k) ASSERT_EQ(fused.data()[k], from_mask.data()[k]) << fn;
  }
}

// A selection that carries its bitmap is copied with AVX-512 compress (4- and 8-byte columns,
// at least a quarter of the rows); one without is gathered by row number: the two agree for
// every length (whole registers and tails), density, slice offset and null pattern.
TEST(RowSelection, CompressedAndGatheredColumnsAgree) {
  std::mt19937_64 rng(5);
  for (int64_t rows : {0, 1, 7, 8, 15, 16, 17, 33, 64, 65, 1000, 1001}) {
    for (double density : {0.1, 0.3, 0.6, 0.97}) {
      for (int64_t offset : {0, 3, 16}) {
        std::bernoulli_distribution keep(density);
        arrow::Int64Builder longs;
        arrow::Int32Builder ints;
        for (int64_t i = 0; i < rows + offset; ++i) {
          EXPECT_TRUE((i % 11 == 5 ? longs.AppendNull() : longs.Append(static_cast<int64_t>(rng()))).ok());
          EXPECT_TRUE(ints.Append(static_cast<int32_t>(rng())).ok());
        }
        auto full = MakeBatch({{"l", longs.Finish().ValueOrDie()}, {"i", ints.Finish().ValueOrDie()}});
        auto batch = full->Slice(offset, rows);
        auto bitmap = expr::AllocateBitmap(rows);
        for (int64_t i = 0; i < rows; ++i) arrow::bit_util::SetBitTo(bitmap->mutable_data(), i, keep(rng));
        expr::RowSelection compressed = expr::SelectionFromBitmap(bitmap, rows);
        expr::RowSelection gathered = compressed;
        gathered.bitmap = nullptr;
        ExpectBatchesEqual(expr::TakeSelectedRows(batch, gathered), expr::TakeSelectedRows(batch, compressed));
      }
    }
  }
}

// A keyed exchange's split: every part equals the rows gathered for it alone, for every column
// kind (the 4- and 8-byte ones compressed into all parts from one load), slice offsets, and
// lengths with and without a tail.
TEST(RowSelection, SplitIntoPartsAgreesWithGatheringEachPart) {
  std::mt19937_64 rng(13);
  for (int64_t rows : {9, 17, 64, 1001}) {
    for (int64_t offset : {0, 5}) {
      for (int parallelism : {2, 3, 4}) {
        auto full = MixedBatch(rng, rows + offset);
        auto batch = full->Slice(offset, rows);
        std::vector<uint16_t> groups(rows);
        for (auto& group : groups) group = static_cast<uint16_t>(rng() % 128);
        std::vector<expr::RowSelection> parts;
        for (int subtask = 0; subtask < parallelism; ++subtask) {
          auto [first, end] = KeyGroupRange(subtask, parallelism, 128);
          expr::RowSelection part = expr::SelectionInRange(groups.data(), rows, first, end);
          if (part.count > 0 && part.count < rows) parts.push_back(std::move(part));
        }
        std::vector<BatchPtr> split = expr::TakeSelectedRowsForEach(batch, parts);
        ASSERT_EQ(split.size(), parts.size());
        for (size_t p = 0; p < parts.size(); ++p) {
          expr::RowSelection gathered = parts[p];
          gathered.bitmap = nullptr;
          ExpectBatchesEqual(expr::TakeSelectedRows(batch, gathered), split[p]);
        }
      }
    }
  }
}

TEST(RowSelection, SelectionInRangeKeepsTheRowsOfAKeyGroupRange) {
  std::mt19937_64 rng(9);
  for (int64_t rows : {0, 5, 31, 32, 33, 100, 4097}) {
    std::vector<uint16_t> groups(rows);
    for (auto& group : groups) group = static_cast<uint16_t>(rng() % 128);
    for (auto [first, end] : {std::pair{0, 64}, std::pair{64, 128}, std::pair{43, 86}, std::pair{0, 128}}) {
      expr::RowSelection selection = expr::SelectionInRange(groups.data(), rows, first, end);
      std::vector<int32_t> expected;
      for (int64_t i = 0; i < rows; ++i) {
        if (groups[i] >= first && groups[i] < end) expected.push_back(static_cast<int32_t>(i));
      }
      ASSERT_EQ(selection.count, static_cast<int64_t>(expected.size()));
      if (selection.count == rows) continue;  // all rows: no row numbers needed
      for (int64_t k = 0; k < selection.count; ++k) ASSERT_EQ(selection.data()[k], expected[k]);
    }
  }
}

TEST(FilterBatch, FilterThenEvaluateKeepsNulls) {
  auto batch = MakeBatch({{"a", ArrayOf(arrow::int64(), "[5, null, 7, 1, null, 9]")},
                          {"s", ArrayOf(arrow::utf8(), R"(["x", "y", null, "z", "w", "v"])")}});
  auto filtered = FilterBatch(batch, *CompilePredicate(Call("ne", {Col("s"), LitS("z")}), *batch->schema()));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[5, null, null, 9]"), filtered->column(0));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["x", "y", "w", "v"])"), filtered->column(1));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[6, null, null, 10]"), Eval(Call("add", {Col("a"), Lit(1)}), filtered));
}

}  // namespace
}  // namespace millstream
