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

// A checkpoint keeps the filter as bytes: read back, it answers as the original did, goes on
// growing, and a damaged copy is refused.
TEST(GrowingBloomFilter, RoundTripsThroughItsBytes) {
  GrowingBloomFilter original(/*first_capacity=*/64);
  for (int i = 0; i < 5000; ++i) original.Add(HashBytes("key-" + std::to_string(i)));
  std::string bytes;
  original.AppendTo(&bytes);
  GrowingBloomFilter restored;
  ASSERT_TRUE(restored.ReadFrom(bytes));
  EXPECT_EQ(restored.memory_bytes(), original.memory_bytes());
  for (int i = 0; i < 20000; ++i) {
    const uint64_t hash = HashBytes((i % 2 ? "key-" : "other-") + std::to_string(i / 2));
    ASSERT_EQ(restored.MayContain(hash), original.MayContain(hash)) << i;
  }
  for (int i = 5000; i < 50000; ++i) restored.Add(HashBytes("key-" + std::to_string(i)));
  for (int i = 0; i < 50000; ++i) ASSERT_TRUE(restored.MayContain(HashBytes("key-" + std::to_string(i))));

  GrowingBloomFilter empty, read_empty;
  std::string empty_bytes;
  empty.AppendTo(&empty_bytes);
  ASSERT_TRUE(read_empty.ReadFrom(empty_bytes));
  EXPECT_TRUE(read_empty.empty());

  GrowingBloomFilter damaged;
  EXPECT_FALSE(damaged.ReadFrom(std::string_view(bytes).substr(0, bytes.size() - 1)));
  EXPECT_FALSE(damaged.ReadFrom(bytes + "x"));
  EXPECT_FALSE(damaged.ReadFrom(""));
  EXPECT_TRUE(damaged.empty());  // unchanged by a refused read
}

}  // namespace
}  // namespace millstream
