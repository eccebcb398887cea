// Window assignment against enumeration: for random times, sizes, slides and offsets (negative
// times included), the panes and window ends the assigner computes are the ones found by
// listing the windows [offset + k * slide, + size) that hold the time.
#include "ops/window_assigner.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace millstream {
namespace {

WindowSpec Spec(int64_t size, int64_t slide, int64_t offset) {
  WindowSpec spec;
  spec.kind = slide == size ? WindowSpec::Kind::kTumbling : WindowSpec::Kind::kSliding;
  spec.size_ms = size;
  spec.slide_ms = slide;
  spec.offset_ms = offset;
  return spec;
}

// The ends of the windows holding t, by listing candidate starts around t.
std::vector<int64_t> ListWindowEnds(int64_t t, int64_t size, int64_t slide, int64_t offset) {
  std::vector<int64_t> ends;
  int64_t k = (t - offset) / slide;
  for (int64_t j = k - size / slide - 3; j <= k + 3; ++j) {
    int64_t start = offset + j * slide;
    if (start <= t && t < start + size) ends.push_back(start + size);
  }
  return ends;
}

TEST(SliceAssigner, AgreesWithListingTheWindows) {
  std::mt19937_64 random(1);
  std::uniform_int_distribution<int64_t> time(-100000, 100000), small(1, 40);
  for (int trial = 0; trial < 3000; ++trial) {
    int64_t slide = small(random);
    int64_t size = slide * std::uniform_int_distribution<int64_t>(1, 4)(random) +
                   (trial % 2 ? std::uniform_int_distribution<int64_t>(0, slide - 1)(random) : 0);
    int64_t offset = std::uniform_int_distribution<int64_t>(-3 * size, 3 * size)(random);
    SliceAssigner assigner(Spec(size, slide, offset), "test");
    int64_t t = time(random);
    auto ends = ListWindowEnds(t, size, slide, offset);
    ASSERT_FALSE(ends.empty());
    int64_t pane_end = assigner.PaneEnd(t);
    // The pane holds t and is one pane long; every window holding t holds the whole pane.
    EXPECT_LT(t, pane_end);
    EXPECT_GE(t, pane_end - assigner.pane_ms());
    EXPECT_EQ(ends.front(), assigner.FirstWindowEndAfter(pane_end - assigner.pane_ms()))
        << "t " << t << " size " << size << " slide " << slide << " offset " << offset;
    EXPECT_EQ(ends.back(), assigner.LastWindowEnd(pane_end));
    EXPECT_EQ(static_cast<int64_t>(ends.size()), (ends.back() - ends.front()) / slide + 1);
    for (int64_t end : ends) {
      for (int64_t pane = pane_end - assigner.pane_ms(); pane < pane_end; ++pane) {
        EXPECT_FALSE(ListWindowEnds(pane, size, slide, offset).empty());
      }
      EXPECT_EQ(assigner.WindowEndAtOrAfter(end), end);
      EXPECT_EQ(assigner.WindowEndAtOrAfter(end - slide + 1), end);
    }
    EXPECT_EQ(assigner.size_ms() % assigner.pane_ms(), 0);
    EXPECT_EQ(assigner.slide_ms() % assigner.pane_ms(), 0);
  }
}

TEST(SliceAssigner, TumblingWindowsAreTheirOwnPane) {
  SliceAssigner assigner(Spec(10000, 10000, 0), "test");
  EXPECT_EQ(assigner.panes_per_window(), 1);
  EXPECT_EQ(assigner.PaneEnd(0), 10000);
  EXPECT_EQ(assigner.PaneEnd(9999), 10000);
  EXPECT_EQ(assigner.PaneEnd(10000), 20000);
  EXPECT_EQ(assigner.PaneEnd(-1), 0);
  EXPECT_EQ(assigner.PaneEnd(-10000), 0);
  EXPECT_EQ(assigner.PaneEnd(-10001), -10000);
  SliceAssigner shifted(Spec(10000, 10000, 2500), "test");
  EXPECT_EQ(shifted.PaneEnd(0), 2500);
  EXPECT_EQ(shifted.PaneEnd(2500), 12500);
}

TEST(SliceAssigner, SlidingPanesAreTheGcd) {
  SliceAssigner assigner(Spec(10000, 4000, 0), "test");
  EXPECT_EQ(assigner.pane_ms(), 2000);
  EXPECT_EQ(assigner.panes_per_window(), 5);
  // t = 5000 is in [-4000, 6000), [0, 10000) and [4000, 14000) (starts: multiples of 4000).
  EXPECT_EQ(assigner.FirstWindowEndAfter(4000), 6000);
  EXPECT_EQ(assigner.LastWindowEnd(assigner.PaneEnd(5000)), 14000);
}

TEST(SliceAssigner, RejectsBadSpecs) {
  EXPECT_THROW(SliceAssigner(Spec(0, 0, 0), "op"), UserError);
  EXPECT_THROW(SliceAssigner(Spec(10, 0, 0), "op"), UserError);
  EXPECT_THROW(SliceAssigner(Spec(10, 11, 0), "op"), UserError);
  EXPECT_THROW(SliceAssigner(Spec(-5, -5, 0), "op"), UserError);
}

TEST(SaturatingAdd, ClampsInsteadOfWrapping) {
  EXPECT_EQ(SaturatingAdd(INT64_MAX, 1), INT64_MAX);
  EXPECT_EQ(SaturatingAdd(INT64_MIN, -1), INT64_MIN);
  EXPECT_EQ(SaturatingAdd(5, -7), -2);
  EXPECT_EQ(FloorDiv(-1, 10), -1);
  EXPECT_EQ(FloorDiv(-10, 10), -1);
  EXPECT_EQ(FloorDiv(9, 10), 0);
}

}  // namespace
}  // namespace millstream
