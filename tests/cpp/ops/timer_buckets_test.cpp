// TimerBuckets against a std::multiset of (deadline, slot): random pushes and watermarks,
// including negative deadlines, deadlines on bucket edges and watermarks inside a bucket.
#include "ops/timer_buckets.h"

#include <random>
#include <set>

#include <gtest/gtest.h>

#include "core/batch.h"
#include "core/time_arithmetic.h"

namespace millstream {
namespace {

using Timer = TimerBuckets::Timer;

TEST(TimerBuckets, PopsExactlyTheDueTimersOfAReference) {
  for (int64_t width_ms : {1, 7, 1000}) {
    std::mt19937_64 random(width_ms);
    TimerBuckets timers(width_ms);
    std::multiset<Timer> reference;
    int64_t watermark_ms = -5000;
    for (int round = 0; round < 3000; ++round) {
      const int pushes = static_cast<int>(random() % 4);
      for (int i = 0; i < pushes; ++i) {
        // Mostly ahead of the watermark, sometimes at or behind it (due at the next pop).
        const int64_t deadline = watermark_ms - 50 + static_cast<int64_t>(random() % 3000);
        const uint32_t slot = static_cast<uint32_t>(random() % 100);
        timers.Push(deadline, slot);
        reference.emplace(deadline, slot);
      }
      if (random() % 3 == 0) {
        watermark_ms += static_cast<int64_t>(random() % 400);
        std::vector<Timer> due;
        timers.PopDue(watermark_ms, &due);
        std::multiset<Timer> expected(reference.begin(), reference.upper_bound({watermark_ms, UINT32_MAX}));
        reference.erase(reference.begin(), reference.upper_bound({watermark_ms, UINT32_MAX}));
        ASSERT_EQ(std::multiset<Timer>(due.begin(), due.end()), expected)
            << "width " << width_ms << ", round " << round;
      }
    }
    std::vector<Timer> rest;
    timers.PopDue(kMaxEventTimeMs * 2, &rest);
    EXPECT_EQ(std::multiset<Timer>(rest.begin(), rest.end()), reference);
  }
}

TEST(TimerBuckets, HandlesTheEdgesOfTheTimeRange) {
  TimerBuckets timers(1000);
  timers.Push(kMaxEventTimeMs + kMaxDurationMs, 1);  // a session end at the edge of the range
  timers.Push(kMinEventTimeMs, 2);
  std::vector<Timer> due;
  timers.PopDue(kMinEventTimeMs, &due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].second, 2u);
  due.clear();
  timers.PopDue(kFinalWatermarkMs, &due);  // the end of the input fires everything
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].second, 1u);
}

}  // namespace
}  // namespace millstream
