#include "ops/exact_float_sum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace millstream {
namespace {

uint64_t Bits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  return bits;
}

double SumInOrder(const std::vector<double>& values) {
  ExactFloatSum sum{};
  for (double v : values) EXPECT_TRUE(sum.Add(v));
  return sum.Value();
}

// Sums `values` split at random points into partial sums, merged in a random order.
double SumByRandomMerges(const std::vector<double>& values, std::mt19937_64& rng) {
  std::vector<ExactFloatSum> parts;
  size_t i = 0;
  while (i < values.size()) {
    size_t n = std::uniform_int_distribution<size_t>(1, 50)(rng);
    ExactFloatSum part{};
    for (size_t end = std::min(values.size(), i + n); i < end; ++i) EXPECT_TRUE(part.Add(values[i]));
    parts.push_back(part);
  }
  while (parts.size() > 1) {
    size_t a = std::uniform_int_distribution<size_t>(0, parts.size() - 1)(rng);
    size_t b = std::uniform_int_distribution<size_t>(0, parts.size() - 2)(rng);
    if (b >= a) ++b;
    EXPECT_TRUE(parts[a].Merge(parts[b]));
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(b));
  }
  return parts.empty() ? 0.0 : parts[0].Value();
}

// Values over many magnitudes and both signs (cancellation included): every order and merge
// tree gives the same bits, where a plain double sum does not.
TEST(ExactFloatSum, SameBitsInAnyOrderAndMergeTree) {
  std::mt19937_64 rng(20);
  int plain_differs = 0;
  for (int round = 0; round < 100; ++round) {
    std::vector<double> values;
    int spread = 1 + round % 80;  // exponents over up to 2^-80..2^80
    for (int i = 0; i < 500; ++i) {
      double mantissa = std::uniform_real_distribution<double>(-1.0, 1.0)(rng);
      values.push_back(std::ldexp(mantissa, std::uniform_int_distribution<int>(-spread, spread)(rng)));
    }
    const uint64_t expected = Bits(SumInOrder(values));
    double plain_first = 0;
    for (double v : values) plain_first += v;
    for (int order = 0; order < 5; ++order) {
      std::shuffle(values.begin(), values.end(), rng);
      ASSERT_EQ(Bits(SumInOrder(values)), expected) << "round " << round;
      ASSERT_EQ(Bits(SumByRandomMerges(values, rng)), expected) << "round " << round;
      double plain = 0;
      for (double v : values) plain += v;
      plain_differs += Bits(plain) != Bits(plain_first);
    }
  }
  EXPECT_GT(plain_differs, 0) << "the data should be such that order matters to a plain sum";
}

// Values k * 2^-20 with |k| < 2^40: their exact sum is an integer count of 2^-20 that __int128
// holds, so the correctly rounded sum is known; within 60 bits of the largest value the sum is
// exact before its one rounding.
TEST(ExactFloatSum, CorrectlyRoundedWithinSixtyBitsOfTheLargest) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<double> values;
    __int128 exact = 0;
    int64_t bound = int64_t{1} << (1 + round % 40);
    for (int i = 0; i < 1000; ++i) {
      int64_t k = std::uniform_int_distribution<int64_t>(-bound, bound)(rng);
      values.push_back(std::ldexp(static_cast<double>(k), -20));
      exact += k;
    }
    double expected = std::ldexp(static_cast<double>(exact), -20);
    EXPECT_EQ(Bits(SumInOrder(values)), Bits(expected)) << "round " << round;
  }
  // Cancellation a plain sum gets wrong: 1e16 + 1 - 1e16 = 1.
  EXPECT_EQ(SumInOrder({1e16, 1.0, -1e16}), 1.0);
}

TEST(ExactFloatSum, EdgesOfTheDoubleRange) {
  const double max = std::numeric_limits<double>::max();
  const double tiny = std::numeric_limits<double>::denorm_min();
  EXPECT_EQ(SumInOrder({}), 0.0);
  EXPECT_EQ(SumInOrder({tiny, tiny, tiny}), 3 * tiny);
  // The documented limit: a value more than ~60 bits below the largest is dropped, even when the
  // large ones cancel (math.fsum gives 1.0; so does a plain sum in this one order).
  EXPECT_EQ(SumInOrder({max, -max, 1.0}), 0.0);
  EXPECT_EQ(SumInOrder({max, -max, 0x1p970}), 0x1p970);
  EXPECT_EQ(SumInOrder({max, max}), HUGE_VAL);  // beyond double: inf, as IEEE
  EXPECT_EQ(SumInOrder({-max, -max}), -HUGE_VAL);
  EXPECT_EQ(SumInOrder({max, max, -max}), max);  // exact in between
  EXPECT_EQ(SumInOrder({-0.0, -0.0}), 0.0);
  EXPECT_EQ(SumInOrder({HUGE_VAL, 1.0}), HUGE_VAL);
  EXPECT_EQ(SumInOrder({-HUGE_VAL, 1.0}), -HUGE_VAL);
  EXPECT_TRUE(std::isnan(SumInOrder({HUGE_VAL, -HUGE_VAL})));
  EXPECT_TRUE(std::isnan(SumInOrder({1.0, std::nan("")})));
  // A small value before a large one is kept to 60 bits below the large one.
  EXPECT_EQ(SumInOrder({1.0, 0x1p59}), 0x1p59 + 1.0);
  EXPECT_EQ(SumInOrder({0x1p59, 1.0}), 0x1p59 + 1.0);
}

TEST(ExactFloatSum, ReportsABinOverflow) {
  ExactFloatSum sum{};
  ASSERT_TRUE(sum.Add(1.0));
  sum.bins[ExactFloatSum::kBins - 1] = std::numeric_limits<int64_t>::max();  // as after 2^33 adds
  EXPECT_FALSE(sum.Add(1.0));
}

}  // namespace
}  // namespace millstream
