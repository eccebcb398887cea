#include "runtime/watermark_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace millstream {
namespace {

TEST(WatermarkTracker, IsTheMinimumOverInputsOnceAllHaveOne) {
  WatermarkTracker tracker(3);
  EXPECT_EQ(tracker.current(), kMinWatermarkMs);
  EXPECT_FALSE(tracker.Update(0, 100));
  EXPECT_FALSE(tracker.Update(1, 200));
  EXPECT_EQ(tracker.current(), kMinWatermarkMs);
  EXPECT_TRUE(tracker.Update(2, 150));
  EXPECT_EQ(tracker.current(), 100);
  EXPECT_FALSE(tracker.Update(1, 300));  // not the minimum
  EXPECT_EQ(tracker.current(), 100);
  EXPECT_TRUE(tracker.Update(0, 400));
  EXPECT_EQ(tracker.current(), 150);
}

TEST(WatermarkTracker, NeverGoesBackwards) {
  WatermarkTracker tracker(2);
  tracker.Update(0, 100);
  tracker.Update(1, 100);
  EXPECT_FALSE(tracker.Update(0, 50));   // ignored for input 0
  EXPECT_EQ(tracker.current(), 100);
  EXPECT_FALSE(tracker.Update(1, 300));  // input 0 still counts as 100, not 50
  EXPECT_EQ(tracker.current(), 100);
  EXPECT_FALSE(tracker.Update(0, 100));  // equal: no advance
  EXPECT_TRUE(tracker.Update(0, 120));
  EXPECT_EQ(tracker.current(), 120);
}

TEST(WatermarkTracker, SingleInputFollowsItsInput) {
  WatermarkTracker tracker(1);
  EXPECT_TRUE(tracker.Update(0, -5));
  EXPECT_EQ(tracker.current(), -5);
  EXPECT_FALSE(tracker.Update(0, -10));
  EXPECT_TRUE(tracker.End(0));
  EXPECT_EQ(tracker.current(), kFinalWatermarkMs);
}

TEST(WatermarkTracker, IdleInputsDoNotHoldItBackUntilTheyReturn) {
  WatermarkTracker tracker(3);
  tracker.Update(0, 100);
  tracker.Update(1, 500);
  EXPECT_EQ(tracker.current(), kMinWatermarkMs);  // input 2 has sent none
  EXPECT_TRUE(tracker.MarkIdle(2));      // now it does not count...
  EXPECT_EQ(tracker.current(), 100);     // ...so the minimum of 0 and 1 applies
  EXPECT_TRUE(tracker.MarkIdle(0));
  EXPECT_EQ(tracker.current(), 500);
  EXPECT_FALSE(tracker.MarkIdle(0));     // already idle
  // Input 0 sends a batch: it holds the watermark back again, but cannot move it back.
  tracker.MarkActive(0);
  EXPECT_EQ(tracker.current(), 500);
  EXPECT_FALSE(tracker.Update(1, 900));  // held at input 0's 100 -> stays 500
  EXPECT_EQ(tracker.current(), 500);
  EXPECT_TRUE(tracker.Update(0, 700));
  EXPECT_EQ(tracker.current(), 700);
  // Input 2 (idle since the start) comes back with a watermark: it counts again at once.
  EXPECT_FALSE(tracker.Update(2, 600));  // back, behind: holds further advance at 600
  EXPECT_EQ(tracker.current(), 700);
  EXPECT_FALSE(tracker.Update(0, 1000));
  EXPECT_EQ(tracker.current(), 700);
  EXPECT_TRUE(tracker.Update(2, 800));   // min(1000, 900, 800)
  EXPECT_EQ(tracker.current(), 800);
}

TEST(WatermarkTracker, AllIdleTakesTheLargestIdleWatermarkWhicheverWentIdleLast) {
  for (int last_idle : {0, 1}) {
    WatermarkTracker tracker(2);
    tracker.Update(0, 100);
    tracker.Update(1, 50);
    tracker.MarkIdle(1 - last_idle);
    tracker.MarkIdle(last_idle);
    EXPECT_EQ(tracker.current(), 100) << "last idle: " << last_idle;
    EXPECT_LT(tracker.current(), kFinalWatermarkMs);
  }
}

TEST(WatermarkTracker, EndedInputsCountAsInfinity) {
  WatermarkTracker tracker(3);
  tracker.Update(0, 10);
  tracker.Update(1, 20);
  tracker.Update(2, 30);
  EXPECT_TRUE(tracker.End(0));
  EXPECT_EQ(tracker.current(), 20);
  EXPECT_FALSE(tracker.End(0));          // twice: nothing
  EXPECT_FALSE(tracker.Update(0, 5000)); // after its end: nothing
  EXPECT_FALSE(tracker.MarkIdle(0));
  tracker.MarkActive(0);
  EXPECT_TRUE(tracker.End(1));
  EXPECT_EQ(tracker.current(), 30);
  EXPECT_FALSE(tracker.MarkIdle(2));     // idle and ended only: the idle one's 30 stays
  EXPECT_EQ(tracker.current(), 30);
  EXPECT_TRUE(tracker.End(2));
  EXPECT_EQ(tracker.current(), kFinalWatermarkMs);
}

TEST(WatermarkTracker, EndBeforeAnyWatermark) {
  WatermarkTracker tracker(2);
  EXPECT_FALSE(tracker.End(0));
  EXPECT_EQ(tracker.current(), kMinWatermarkMs);  // input 1 has said nothing yet
  EXPECT_TRUE(tracker.Update(1, 7));
  EXPECT_EQ(tracker.current(), 7);
}

// Random updates and ends without idleness against the definition: the minimum over inputs of
// the largest watermark each sent (+inf once ended).
TEST(WatermarkTracker, MatchesTheDefinitionOnRandomUpdates) {
  std::mt19937_64 random(5);
  for (int trial = 0; trial < 200; ++trial) {
    const int inputs = 1 + static_cast<int>(random() % 5);
    WatermarkTracker tracker(inputs);
    std::vector<int64_t> largest(inputs, kMinWatermarkMs);
    int64_t previous = tracker.current();
    for (int step = 0; step < 200; ++step) {
      const int input = static_cast<int>(random() % inputs);
      bool advanced;
      if (random() % 50 == 0) {
        advanced = tracker.End(input);
        largest[input] = kFinalWatermarkMs;
      } else {
        const int64_t watermark = static_cast<int64_t>(random() % 1000) - 200;
        advanced = tracker.Update(input, watermark);
        if (largest[input] != kFinalWatermarkMs) largest[input] = std::max(largest[input], watermark);
      }
      const int64_t expected = *std::min_element(largest.begin(), largest.end());
      ASSERT_EQ(tracker.current(), expected) << "trial " << trial << " step " << step;
      ASSERT_EQ(advanced, tracker.current() > previous);
      previous = tracker.current();
    }
  }
}

}  // namespace
}  // namespace millstream
