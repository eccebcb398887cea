#include "core/key_encoding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include <arrow/api.h>

#include "core/error.h"
#include "key_columns_testing.h"  // tests/cpp/core/

namespace millstream {
namespace {

using testing::ArrayOf;
using testing::BatchOf;

std::vector<std::string> EncodeAll(const arrow::RecordBatch& batch, const std::vector<int>& columns) {
  std::vector<std::string> keys(batch.num_rows());
  for (int64_t row = 0; row < batch.num_rows(); ++row) EncodeKey(batch, columns, row, &keys[row]);
  return keys;
}

// Sorting the rows by their encoded bytes must sort them by value.
template <typename T, typename Builder>
void ExpectOrderPreserving(std::vector<T> values) {
  Builder builder;
  CheckArrow(builder.AppendValues(values), "test");
  auto batch = BatchOf({CheckArrow(builder.Finish(), "test")});
  const auto keys = EncodeAll(*batch, {0});
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  for (size_t i = 1; i < order.size(); ++i) {
    const T& before = values[order[i - 1]];
    const T& after = values[order[i]];
    ASSERT_LE(before, after) << "at " << i;
    // Equal bytes exactly when equal values.
    ASSERT_EQ(keys[order[i - 1]] == keys[order[i]], before == after);
  }
}

TEST(KeyEncoding, SignedIntegersSortNumerically) {
  std::mt19937_64 random(11);
  std::vector<int64_t> int64s = {std::numeric_limits<int64_t>::min(), -1, 0, 1,
                                 std::numeric_limits<int64_t>::max(), 255, 256, -256, -255};
  std::vector<int32_t> int32s = {std::numeric_limits<int32_t>::min(), -1, 0, 1,
                                 std::numeric_limits<int32_t>::max()};
  std::vector<int8_t> int8s;
  for (int value = -128; value <= 127; ++value) int8s.push_back(static_cast<int8_t>(value));
  for (int i = 0; i < 20000; ++i) {
    const int64_t value = static_cast<int64_t>(random());
    int64s.push_back(value);
    int64s.push_back(value >> (random() % 64));  // small magnitudes too
    int32s.push_back(static_cast<int32_t>(value >> (random() % 32)));
  }
  int64s.push_back(42);
  int64s.push_back(42);  // a duplicate
  ExpectOrderPreserving<int64_t, arrow::Int64Builder>(int64s);
  ExpectOrderPreserving<int32_t, arrow::Int32Builder>(int32s);
  ExpectOrderPreserving<int8_t, arrow::Int8Builder>(int8s);
  ExpectOrderPreserving<uint64_t, arrow::UInt64Builder>(
      {0, 1, 255, 256, std::numeric_limits<uint64_t>::max(), 1ull << 63, (1ull << 63) - 1});
}

TEST(KeyEncoding, FloatsSortNumericallyWithOneZeroAndOneNaN) {
  ExpectOrderPreserving<double, arrow::DoubleBuilder>(
      {-std::numeric_limits<double>::infinity(), -1e300, -1.5, -1, -std::numeric_limits<double>::denorm_min(),
       0.0, std::numeric_limits<double>::denorm_min(), 1e-300, 1, 1.5, 2, 1e300,
       std::numeric_limits<double>::infinity()});
  ExpectOrderPreserving<float, arrow::FloatBuilder>({-3.5f, -1.0f, 0.0f, 0.25f, 7.0f});
  arrow::DoubleBuilder builder;
  CheckArrow(builder.AppendValues({0.0, -0.0, std::nan("1"), -std::nan("2"),
                                   std::numeric_limits<double>::infinity()}), "test");
  const auto keys = EncodeAll(*BatchOf({CheckArrow(builder.Finish(), "test")}), {0});
  EXPECT_EQ(keys[0], keys[1]);   // -0.0 is the key 0.0
  EXPECT_EQ(keys[2], keys[3]);   // one NaN
  EXPECT_GT(keys[2], keys[4]);   // after +inf
}

TEST(KeyEncoding, NullsSortFirstAndDifferFromEveryValue) {
  auto batch = BatchOf({ArrayOf(arrow::int64(), "[null, -9223372036854775808, 0, null]")});
  const auto keys = EncodeAll(*batch, {0});
  EXPECT_EQ(keys[0], keys[3]);
  EXPECT_LT(keys[0], keys[1]);
  EXPECT_NE(keys[0], keys[2]);
  EXPECT_EQ(keys[0], std::string(1, '\0'));
}

TEST(KeyEncoding, LayoutIsTheDocumentedOne) {
  auto batch = BatchOf({ArrayOf(arrow::int32(), "[1]"), ArrayOf(arrow::utf8(), R"(["ab"])"),
                        ArrayOf(arrow::boolean(), "[true]")});
  std::string key;
  EncodeKey(*batch, {0, 1, 2}, 0, &key);
  EXPECT_EQ(key, std::string("\x01\x80\x00\x00\x01"  // present, int32 1 with the sign bit flipped
                             "\x01\x00\x00\x00\x02" "ab"  // present, length 2, bytes
                             "\x01\x01",                  // present, true
                             14));
}

TEST(KeyEncoding, CompositeKeysAreUnambiguousAndPrefixFree) {
  // Strings that would run together without lengths: ("a", "bc") and ("ab", "c").
  std::mt19937_64 random(3);
  arrow::StringBuilder first;
  arrow::StringBuilder second;
  arrow::Int32Builder third;
  const int rows = 20000;
  std::vector<std::tuple<std::optional<std::string>, std::optional<std::string>, std::optional<int32_t>>> tuples;
  for (int row = 0; row < rows; ++row) {
    auto random_string = [&]() -> std::optional<std::string> {
      if (random() % 8 == 0) return std::nullopt;
      std::string text(random() % 4, 'a');
      for (char& c : text) c = static_cast<char>("ab\0\x01\xff"[random() % 5]);
      return text;
    };
    auto a = random_string();
    auto b = random_string();
    std::optional<int32_t> c;
    if (random() % 8 != 0) c = static_cast<int32_t>(random() % 5) - 2;
    a ? CheckArrow(first.Append(*a), "t") : CheckArrow(first.AppendNull(), "t");
    b ? CheckArrow(second.Append(*b), "t") : CheckArrow(second.AppendNull(), "t");
    c ? CheckArrow(third.Append(*c), "t") : CheckArrow(third.AppendNull(), "t");
    tuples.emplace_back(a, b, c);
  }
  auto batch = BatchOf({CheckArrow(first.Finish(), "t"), CheckArrow(second.Finish(), "t"),
                        CheckArrow(third.Finish(), "t")});
  const auto keys = EncodeAll(*batch, {0, 1, 2});
  // Equal keys exactly when equal tuples.
  std::map<std::string, size_t> first_row_of_key;
  for (int row = 0; row < rows; ++row) {
    auto [entry, inserted] = first_row_of_key.emplace(keys[row], row);
    if (!inserted) ASSERT_EQ(tuples[entry->second], tuples[row]);
  }
  std::set<decltype(tuples)::value_type> distinct_tuples(tuples.begin(), tuples.end());
  EXPECT_EQ(first_row_of_key.size(), distinct_tuples.size());
  // Prefix-free: in sorted order a prefix would sit right before a key it starts.
  std::string previous;
  bool have_previous = false;
  for (const auto& [key, row] : first_row_of_key) {
    if (have_previous) ASSERT_FALSE(key.starts_with(previous)) << "row " << row;
    previous = key;
    have_previous = true;
  }
}

TEST(KeyEncoding, EncoderMatchesEncodeKeyOnSlices) {
  auto batch = BatchOf({ArrayOf(arrow::int64(), "[1, null, 3, 4, 5]"),
                        ArrayOf(arrow::utf8(), R"(["a", "bb", null, "", "e"])"),
                        ArrayOf(arrow::boolean(), "[true, false, null, true, false]")})
                   ->Slice(1, 4);
  KeyEncoder encoder(*batch, {2, 0, 1});
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    std::string expected;
    std::string actual = "prefix";
    EncodeKey(*batch, {2, 0, 1}, row, &expected);
    encoder.Append(row, &actual);
    EXPECT_EQ(actual, "prefix" + expected);
  }
}

TEST(KeyDecoder, RoundTripsEveryKeyTypeFollowedByNamespaceBytes) {
  const arrow::ArrayVector columns = {
      ArrayOf(arrow::int8(), "[-128, 0, null, 127]"),
      ArrayOf(arrow::int16(), "[-300, null, 0, 300]"),
      ArrayOf(arrow::int32(), "[null, -2147483648, 2147483647, 5]"),
      ArrayOf(arrow::int64(), "[-9223372036854775808, 9223372036854775807, 0, null]"),
      ArrayOf(arrow::uint8(), "[0, 255, null, 7]"),
      ArrayOf(arrow::uint16(), "[0, 65535, 1, null]"),
      ArrayOf(arrow::uint32(), "[null, 4294967295, 0, 1]"),
      ArrayOf(arrow::uint64(), "[18446744073709551615, 0, null, 9]"),
      ArrayOf(arrow::boolean(), "[true, false, null, true]"),
      ArrayOf(arrow::float32(), "[-1.5, 0, null, 3.25]"),
      ArrayOf(arrow::float64(), "[-1e300, 2.5, 1e-300, null]"),
      ArrayOf(arrow::utf8(), R"(["", "héllo", null, "x"])"),
      ArrayOf(arrow::large_utf8(), R"([null, "a", "", "bc"])"),
      ArrayOf(arrow::binary(), R"(["", "ab", null, "c"])"),
      ArrayOf(arrow::large_binary(), R"(["z", null, "", "yy"])"),
      ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"), "[0, -1, null, 1700000000000]"),
      ArrayOf(arrow::timestamp(arrow::TimeUnit::NANO), "[5, null, 6, 7]"),
      ArrayOf(arrow::date32(), "[0, 19000, null, -1]"),
      ArrayOf(arrow::date64(), "[0, 86400000, null, -86400000]"),
      ArrayOf(arrow::time32(arrow::TimeUnit::SECOND), "[0, 60, null, 3600]"),
      ArrayOf(arrow::time64(arrow::TimeUnit::MICRO), "[0, 1, 2, null]"),
      ArrayOf(arrow::duration(arrow::TimeUnit::MILLI), "[-5, 0, null, 5]"),
  };
  auto batch = BatchOf(columns);
  std::vector<int> key_columns(columns.size());
  std::iota(key_columns.begin(), key_columns.end(), 0);
  std::reverse(key_columns.begin(), key_columns.end());  // any order of columns
  KeyEncoder encoder(*batch, key_columns);
  KeyDecoder decoder(*batch->schema(), key_columns);
  const std::string namespace_bytes("\x00\x00\x01\x8b", 4);
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    std::string key;
    encoder.Append(row, &key);
    const size_t key_length = key.size();
    key += namespace_bytes;
    EXPECT_EQ(decoder.KeyLength(key), key_length);
    EXPECT_EQ(decoder.Append(key), key_length);
  }
  EXPECT_EQ(decoder.length(), batch->num_rows());
  const arrow::ArrayVector decoded = decoder.Finish();
  ASSERT_EQ(decoded.size(), key_columns.size());
  for (size_t i = 0; i < key_columns.size(); ++i) {
    EXPECT_TRUE(decoded[i]->Equals(*columns[key_columns[i]]))
        << batch->schema()->field(key_columns[i])->ToString() << ": " << decoded[i]->ToString();
    EXPECT_TRUE(decoder.fields()[i]->Equals(*batch->schema()->field(key_columns[i])));
  }
  EXPECT_EQ(decoder.length(), 0);  // Finish resets
  EXPECT_EQ(decoder.Finish()[0]->length(), 0);
}

TEST(KeyDecoder, RejectsTruncatedBytesAsAnInternalError) {
  auto batch = BatchOf({ArrayOf(arrow::utf8(), R"(["hello"])")});
  std::string key;
  EncodeKey(*batch, {0}, 0, &key);
  KeyDecoder decoder(*batch->schema(), {0});
  EXPECT_THROW(decoder.Append(std::string_view(key).substr(0, key.size() - 1)), InternalError);
  EXPECT_THROW(decoder.Append(std::string_view(key).substr(0, 3)), InternalError);
  EXPECT_THROW(decoder.Append(""), InternalError);
}

}  // namespace
}  // namespace millstream
