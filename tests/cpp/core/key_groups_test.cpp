#include "core/key_groups.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include <arrow/api.h>

#include "core/error.h"
#include "key_columns_testing.h"  // tests/cpp/core/

namespace millstream {
namespace {

using testing::ArrayOf;
using testing::BatchOf;

std::shared_ptr<arrow::Array> Int64s(const std::vector<int64_t>& values) {
  arrow::Int64Builder builder;
  CheckArrow(builder.AppendValues(values), "test");
  return CheckArrow(builder.Finish(), "test");
}

std::shared_ptr<arrow::Array> Strings(const std::vector<std::string>& values,
                                      const std::vector<bool>& valid = {}) {
  arrow::StringBuilder builder;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!valid.empty() && !valid[i]) {
      CheckArrow(builder.AppendNull(), "test");
    } else {
      CheckArrow(builder.Append(values[i]), "test");
    }
  }
  return CheckArrow(builder.Finish(), "test");
}

std::vector<uint16_t> KeyGroups(const arrow::RecordBatch& batch, const std::vector<int>& columns,
                                int max_parallelism) {
  std::vector<uint16_t> groups;
  ComputeKeyGroups(batch, columns, max_parallelism, &groups);
  return groups;
}

std::vector<uint64_t> Hashes(const arrow::RecordBatch& batch, const std::vector<int>& columns) {
  std::vector<uint64_t> hashes;
  HashKeys(batch, columns, &hashes);
  return hashes;
}

// The hash is part of the state format: these values were computed once and must never change
// (a change moves keys to other key groups, so checkpoints would no longer restore).
TEST(KeyGroups, HashesAreFixedAcrossRunsAndMachines) {
  auto ints = BatchOf({Int64s({0, 1, -1, 42, std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max()})});
  EXPECT_EQ(Hashes(*ints, {0}),
            (std::vector<uint64_t>{0xb800bd6c02472607ULL, 0xcb30a855101ade54ULL, 0xd92529b7dba27afaULL,
                                   0x6880cd9ebdbd6eb6ULL, 0xbc002b2c0f525fb5ULL, 0xab49d3b90ad9ab0fULL}));
  auto strings = BatchOf({Strings({"", "a", "hello world!", "a string longer than sixteen bytes"})});
  EXPECT_EQ(Hashes(*strings, {0}),
            (std::vector<uint64_t>{0x13b0353af0a59433ULL, 0xea2f7dc5d390ecf7ULL,
                                   0xb0b9255dcc31471aULL, 0x09aa3e44a184351dULL}));
  // key group = upper 32 bits of the hash % max_parallelism
  EXPECT_EQ(KeyGroups(*ints, {0}, 128), (std::vector<uint16_t>{108, 85, 55, 30, 44, 57}));
  EXPECT_EQ(KeyGroups(*ints, {0}, 7), (std::vector<uint16_t>{5, 6, 1, 1, 5, 2}));
}

TEST(KeyGroups, VectorisedEqualsRowByRowOverChunksOffsetsAndNulls) {
  // 3000 rows cross the 1024-row chunks; the slice gives the arrays an offset; the reference is
  // each row hashed alone, as a one-row slice.
  std::mt19937_64 random(7);
  arrow::Int64Builder ints;
  arrow::StringBuilder strings;
  arrow::DoubleBuilder doubles;
  arrow::BooleanBuilder bools;
  for (int row = 0; row < 3005; ++row) {
    if (random() % 10 == 0) {
      CheckArrow(ints.AppendNull(), "test");
    } else {
      CheckArrow(ints.Append(static_cast<int64_t>(random() % 1000) - 500), "test");
    }
    if (random() % 7 == 0) {
      CheckArrow(strings.AppendNull(), "test");
    } else {
      CheckArrow(strings.Append(std::string(random() % 20, static_cast<char>('a' + random() % 26))), "test");
    }
    CheckArrow(doubles.Append(static_cast<double>(random() % 100) / 4), "test");
    CheckArrow(bools.Append(random() % 2 == 0), "test");
  }
  auto full = BatchOf({CheckArrow(ints.Finish(), "t"), CheckArrow(strings.Finish(), "t"),
                       CheckArrow(doubles.Finish(), "t"), CheckArrow(bools.Finish(), "t")});
  auto batch = full->Slice(5, 3000);
  for (const std::vector<int>& columns :
       std::vector<std::vector<int>>{{0}, {1}, {2}, {3}, {0, 1}, {1, 0, 3, 2}}) {
    for (int max_parallelism : {1, 7, 128, 1000, 65536}) {
      const auto groups = KeyGroups(*batch, columns, max_parallelism);
      const auto hashes = Hashes(*batch, columns);
      ASSERT_EQ(groups.size(), 3000u);
      for (int64_t row = 0; row < 3000; ++row) {
        auto one = batch->Slice(row, 1);
        ASSERT_EQ(Hashes(*one, columns)[0], hashes[row]) << "row " << row;
        ASSERT_EQ(KeyGroups(*one, columns, max_parallelism)[0], groups[row]) << "row " << row;
        ASSERT_EQ(KeyGroupOfHash(hashes[row], max_parallelism), groups[row]);
        ASSERT_LT(groups[row], max_parallelism);
      }
    }
  }
}

TEST(KeyGroups, DependsOnTheValueNotTheWidth) {
  auto int64s = ArrayOf(arrow::int64(), "[0, 1, -1, 123456, null, -7]");
  auto int32s = ArrayOf(arrow::int32(), "[0, 1, -1, 123456, null, -7]");
  auto int8s = ArrayOf(arrow::int8(), "[0, 1, -1, 64, null, -7]");
  auto int64s_small = ArrayOf(arrow::int64(), "[0, 1, -1, 64, null, -7]");
  EXPECT_EQ(Hashes(*BatchOf({int64s}), {0}), Hashes(*BatchOf({int32s}), {0}));
  EXPECT_EQ(Hashes(*BatchOf({int8s}), {0}), Hashes(*BatchOf({int64s_small}), {0}));
  const std::string text = R"(["", "x", "longer than eight bytes", null])";
  auto string_hashes = Hashes(*BatchOf({ArrayOf(arrow::utf8(), text)}), {0});
  EXPECT_EQ(string_hashes, Hashes(*BatchOf({ArrayOf(arrow::large_utf8(), text)}), {0}));
  EXPECT_EQ(string_hashes, Hashes(*BatchOf({ArrayOf(arrow::binary(), text)}), {0}));
  // A timestamp hashes as its int64 count.
  EXPECT_EQ(Hashes(*BatchOf({ArrayOf(arrow::timestamp(arrow::TimeUnit::MILLI), "[5, 6]")}), {0}),
            Hashes(*BatchOf({ArrayOf(arrow::int64(), "[5, 6]")}), {0}));
}

TEST(KeyGroups, EqualFloatsAndNullsHashAlike) {
  arrow::DoubleBuilder builder;
  const double nan_a = std::numeric_limits<double>::quiet_NaN();
  const double nan_b = -std::numeric_limits<double>::quiet_NaN();
  CheckArrow(builder.AppendValues({0.0, -0.0, nan_a, nan_b, 1.5}), "test");
  CheckArrow(builder.AppendNull(), "test");
  auto batch = BatchOf({CheckArrow(builder.Finish(), "test")});
  const auto hashes = Hashes(*batch, {0});
  EXPECT_EQ(hashes[0], hashes[1]);
  EXPECT_EQ(hashes[2], hashes[3]);
  EXPECT_NE(hashes[0], hashes[2]);
  // float32 1.5 is the same value as float64 1.5.
  EXPECT_EQ(Hashes(*BatchOf({ArrayOf(arrow::float32(), "[1.5]")}), {0})[0], hashes[4]);
  // Every null hashes alike, whatever the type.
  const uint64_t null_hash = hashes[5];
  EXPECT_EQ(Hashes(*BatchOf({ArrayOf(arrow::utf8(), "[null]")}), {0})[0], null_hash);
  EXPECT_EQ(Hashes(*BatchOf({ArrayOf(arrow::int32(), "[null]")}), {0})[0], null_hash);
}

// Counts of each group against the uniform expectation: every group within 5 % and a chi-square
// statistic far below what a skewed hash gives.
void ExpectUniform(const std::vector<uint16_t>& groups, int max_parallelism) {
  std::vector<int64_t> counts(max_parallelism, 0);
  for (uint16_t group : groups) counts[group]++;
  const double expected = static_cast<double>(groups.size()) / max_parallelism;
  double chi_square = 0;
  for (int group = 0; group < max_parallelism; ++group) {
    EXPECT_NEAR(counts[group], expected, expected * 0.05) << "group " << group;
    chi_square += (counts[group] - expected) * (counts[group] - expected) / expected;
  }
  // Degrees of freedom d = M - 1: mean d, standard deviation sqrt(2d); allow 5 deviations.
  const double dof = max_parallelism - 1;
  EXPECT_LT(chi_square, dof + 5 * std::sqrt(2 * dof) + 1);
}

TEST(KeyGroups, SpreadsSequentialIntegersEvenly) {
  std::vector<int64_t> values(1 << 20);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(i);
  auto batch = BatchOf({Int64s(values)});
  ExpectUniform(KeyGroups(*batch, {0}, 128), 128);
  ExpectUniform(KeyGroups(*batch, {0}, 7), 7);
  ExpectUniform(KeyGroups(*batch, {0}, 100), 100);
  // Timestamps a second apart: only multiples of 1000 occur.
  for (auto& value : values) value *= 1000;
  ExpectUniform(KeyGroups(*BatchOf({Int64s(values)}), {0}, 128), 128);
}

TEST(KeyGroups, SpreadsStringsAndCompositeKeysEvenly) {
  // 1 M distinct keys: a group's count then varies by sqrt(1 M / M) around its mean, so 5 % is
  // more than 4 standard deviations for M = 128.
  std::vector<std::string> names;
  std::vector<int64_t> numbers;
  for (int i = 0; i < (1 << 20); ++i) {
    names.push_back("user-" + std::to_string(i));
    numbers.push_back(i / 4);
  }
  auto batch = BatchOf({Strings(names), Int64s(numbers)});
  ExpectUniform(KeyGroups(*batch, {0}, 128), 128);
  ExpectUniform(KeyGroups(*batch, {0, 1}, 128), 128);
  ExpectUniform(KeyGroups(*batch, {1, 0}, 13), 13);
}

TEST(KeyGroups, CompositeKeysDependOnEveryColumnAndTheirOrder) {
  auto a = Int64s({1, 2, 3, 4, 5, 6, 7, 8});
  auto b = Int64s({8, 7, 6, 5, 4, 3, 2, 1});
  auto batch = BatchOf({a, b});
  const auto ab = Hashes(*batch, {0, 1});
  const auto ba = Hashes(*batch, {1, 0});
  const auto only_a = Hashes(*batch, {0});
  std::set<uint64_t> distinct(ab.begin(), ab.end());
  EXPECT_EQ(distinct.size(), 8u);
  for (size_t row = 0; row < 8; ++row) {
    EXPECT_NE(ab[row], ba[row]);
    EXPECT_NE(ab[row], only_a[row]);
    // (1, 8) in one order equals (8, 1) taken the other way round: same values, same order.
    EXPECT_EQ(ab[row], ba[7 - row]);
  }
}

TEST(KeyGroups, NoKeyColumnsIsOneKey) {
  auto batch = BatchOf({Int64s({1, 2, 3})});
  const auto groups = KeyGroups(*batch, {}, 128);
  EXPECT_EQ(groups[0], groups[1]);
  EXPECT_EQ(groups[1], groups[2]);
}

TEST(KeyGroups, RejectsKeyColumnsOfUnsupportedTypes) {
  auto lists = ArrayOf(arrow::list(arrow::int64()), "[[1], [2, 3]]");
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("tags", lists->type())}), 2, {lists});
  try {
    KeyGroups(*batch, {0}, 128);
    FAIL() << "expected a UserTypeError";
  } catch (const UserTypeError& error) {
    EXPECT_NE(std::string(error.what()).find("'tags'"), std::string::npos) << error.what();
  }
}

TEST(KeyGroupRange, CoversEveryGroupExactlyOnceInOrder) {
  for (int max_parallelism : {1, 7, 10, 128, 1000}) {
    for (int parallelism = 1; parallelism <= 7; ++parallelism) {
      std::vector<int> owner(max_parallelism, -1);
      int expected_first = 0;
      for (int subtask = 0; subtask < parallelism; ++subtask) {
        const auto [first, end] = KeyGroupRange(subtask, parallelism, max_parallelism);
        EXPECT_EQ(first, expected_first) << "ranges are contiguous";
        EXPECT_LE(first, end);
        for (int group = first; group < end; ++group) {
          EXPECT_EQ(owner[group], -1) << "group " << group << " owned twice";
          owner[group] = subtask;
        }
        expected_first = end;
      }
      EXPECT_EQ(expected_first, max_parallelism);
      for (int group = 0; group < max_parallelism; ++group) {
        // The range agrees with the routing the exchange uses.
        EXPECT_EQ(owner[group], SubtaskOfKeyGroup(group, parallelism, max_parallelism))
            << "group " << group << " P " << parallelism << " M " << max_parallelism;
        // Independent reference: the defining formula in floating point.
        EXPECT_EQ(owner[group], static_cast<int>(std::floor(static_cast<double>(group) * parallelism /
                                                            max_parallelism)));
      }
      if (parallelism <= max_parallelism) {
        for (int subtask = 0; subtask < parallelism; ++subtask) {
          const auto [first, end] = KeyGroupRange(subtask, parallelism, max_parallelism);
          EXPECT_LT(first, end) << "every subtask owns a group";
        }
      }
    }
  }
}

TEST(KeyGroups, KeyGroupPrefixIsBigEndianAndOrdered) {
  std::string previous;
  for (int group = 0; group < kMaxKeyGroups; group += 251) {
    std::string key;
    AppendKeyGroup(group, &key);
    ASSERT_EQ(key.size(), 2u);
    EXPECT_EQ(ReadKeyGroup(key), group);
    EXPECT_LT(previous, key);
    previous = key;
  }
  std::string key;
  AppendKeyGroup(0x0102, &key);
  EXPECT_EQ(key, std::string("\x01\x02", 2));
}

}  // namespace
}  // namespace millstream
