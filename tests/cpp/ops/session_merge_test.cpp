// Session merging on out-of-order input: adding rows one at a time in a random order gives the
// sessions of the sorted times split where neighbours are more than the gap apart.
#include "ops/session_merge.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

namespace millstream {
namespace {

constexpr uint32_t kNone = 0xffffffffu;

// Adds rows; new sessions get increasing group ids; absorbed groups are recorded.
struct SessionsUnderTest {
  SessionList sessions{};
  ~SessionsUnderTest() { sessions.Clear(); }
  std::vector<uint32_t> absorbed_groups;
  uint32_t next_group = 0;
  size_t Add(int64_t t, int64_t gap) {
    std::vector<Session> absorbed;
    size_t index = AddToSessions(&sessions, t, gap, next_group, &absorbed);
    if (sessions[index].group == next_group) ++next_group;
    for (const Session& s : absorbed) absorbed_groups.push_back(s.group);
    return index;
  }
};

TEST(SessionMerge, ExtendsBridgesAndOpens) {
  SessionsUnderTest s;
  s.Add(100, 10);                               // [100, 110)
  ASSERT_EQ(s.sessions.size(), 1u);
  EXPECT_EQ(s.sessions[0].end_ms, 110);
  s.Add(105, 10);                               // extends: [100, 115)
  EXPECT_EQ(s.sessions[0].end_ms, 115);
  s.Add(130, 10);                               // new: [130, 140)
  ASSERT_EQ(s.sessions.size(), 2u);
  s.Add(90, 10);                                // touches 100: [90, 115), as Flink merges [90,100) and [100,..)
  EXPECT_EQ(s.sessions[0].start_ms, 90);
  EXPECT_EQ(s.sessions[0].group, 0u);
  s.Add(115, 15);                               // [115,130) touches both: bridges them
  ASSERT_EQ(s.sessions.size(), 1u);
  EXPECT_EQ(s.sessions[0].start_ms, 90);
  EXPECT_EQ(s.sessions[0].end_ms, 140);
  EXPECT_EQ(s.sessions[0].group, 0u);           // the earliest session survives
  EXPECT_EQ(s.absorbed_groups, std::vector<uint32_t>{1});
  size_t index = s.Add(141, 10);                // 140 + 1 > end: a new session
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(s.sessions[1].group, 2u);
  s.Add(20, 10);                                // before everything
  EXPECT_EQ(s.sessions[0].start_ms, 20);
}

TEST(SessionList, InsertsAndErasesInOrder) {
  SessionList list{};
  EXPECT_TRUE(list.empty());
  for (int i = 0; i < 20; ++i) list.Insert(list.size(), Session{i * 10, i * 10 + 5, static_cast<uint32_t>(i)});
  list.Insert(0, Session{-10, -5, 99});
  ASSERT_EQ(list.size(), 21u);
  EXPECT_EQ(list[0].group, 99u);
  EXPECT_EQ(list[20].group, 19u);
  list.Erase(1, 20);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].group, 19u);
  list.Erase(0, 1);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].start_ms, 190);  // back inline
  list.Clear();
  EXPECT_TRUE(list.empty());
}

TEST(SessionMerge, OutOfOrderRowsGiveTheGapSplitRuns) {
  std::mt19937_64 random(3);
  for (int trial = 0; trial < 500; ++trial) {
    int64_t gap = std::uniform_int_distribution<int64_t>(1, 30)(random);
    int n = std::uniform_int_distribution<int>(1, 60)(random);
    std::vector<int64_t> times;
    for (int i = 0; i < n; ++i) times.push_back(std::uniform_int_distribution<int64_t>(-200, 800)(random));
    SessionsUnderTest s;
    std::vector<int> row_count(1000, 0);
    for (int64_t t : times) s.Add(t, gap);
    std::vector<int64_t> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::pair<int64_t, int64_t>> expected;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i == 0 || sorted[i] - sorted[i - 1] > gap) expected.push_back({sorted[i], sorted[i] + gap});
      expected.back().second = sorted[i] + gap;
    }
    ASSERT_EQ(s.sessions.size(), expected.size()) << "trial " << trial;
    std::vector<uint32_t> groups;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(s.sessions[i].start_ms, expected[i].first);
      EXPECT_EQ(s.sessions[i].end_ms, expected[i].second);
      groups.push_back(s.sessions[i].group);
    }
    // Every group made is either live or absorbed, exactly once.
    groups.insert(groups.end(), s.absorbed_groups.begin(), s.absorbed_groups.end());
    std::sort(groups.begin(), groups.end());
    ASSERT_EQ(groups.size(), s.next_group);
    for (uint32_t g = 0; g < s.next_group; ++g) EXPECT_EQ(groups[g], g);
  }
}

}  // namespace
}  // namespace millstream
