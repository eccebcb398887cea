// EvictOldest against a full sort: the same entries leave, oldest first, and it stops as soon
// as the state is back under its target (ties in age are broken by entry id).
#include "state/evict_oldest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace millstream {
namespace {

TEST(EvictOldest, EvictsInAgeOrderUntilUnderTarget) {
  std::mt19937_64 random(5);
  for (int round = 0; round < 50; ++round) {
    const int n = std::uniform_int_distribution<int>(0, 5000)(random);
    std::vector<AgeEntry> ages;
    for (int i = 0; i < n; ++i) {
      ages.emplace_back(std::uniform_int_distribution<uint32_t>(0, 300)(random), static_cast<uint32_t>(i));
    }
    std::vector<AgeEntry> sorted = ages;
    std::sort(sorted.begin(), sorted.end());
    const int wanted = std::uniform_int_distribution<int>(0, n + 10)(random);
    std::vector<uint32_t> evicted;
    EvictOldest(&ages, [&] { return static_cast<int>(evicted.size()) < wanted; },
                [&](uint32_t id) { evicted.push_back(id); });
    ASSERT_EQ(static_cast<int>(evicted.size()), std::min(wanted, n));
    for (size_t i = 0; i < evicted.size(); ++i) ASSERT_EQ(evicted[i], sorted[i].second) << i;
  }
}

TEST(EvictOldest, NothingLeavesWhenUnderTarget) {
  std::vector<AgeEntry> ages = {{3, 0}, {1, 1}, {2, 2}};
  int calls = 0;
  EvictOldest(&ages, [] { return false; }, [&](uint32_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace millstream
