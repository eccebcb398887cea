// The Bloom filter of groups written to the state backend: no false negatives however far it
// grows, and few false positives.
#include "state/growing_bloom_filter.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "core/hash.h"

namespace millstream {
namespace {

TEST(GrowingBloomFilter, FindsEverythingAddedAndLittleElse) {
  GrowingBloomFilter filter(/*first_capacity=*/64);
  EXPECT_TRUE(filter.empty());
  EXPECT_FALSE(filter.MayContain(HashBytes("anything")));
  const int added = 200000;  // many parts: 64, 256, ... (7 of them)
  for (int i = 0; i < added; ++i) {
    filter.Add(HashBytes("key-" + std::to_string(i)));
    if (i % 997 == 0) {  // all added so far, also while it grows
      for (int j = 0; j <= i; j += 101) ASSERT_TRUE(filter.MayContain(HashBytes("key-" + std::to_string(j))));
    }
  }
  for (int i = 0; i < added; ++i) ASSERT_TRUE(filter.MayContain(HashBytes("key-" + std::to_string(i))));
  int false_positives = 0;
  const int asked = 200000;
  for (int i = 0; i < asked; ++i) false_positives += filter.MayContain(HashBytes("other-" + std::to_string(i)));
  EXPECT_LT(false_positives, asked / 100) << "more than 1% false positives";
  // 16 bits per entry of capacity: 2 bytes per entry, up to 4x that while the newest part fills.
  EXPECT_LT(filter.memory_bytes(), static_cast<size_t>(added) * 8);
}

}  // namespace
}  // namespace millstream
