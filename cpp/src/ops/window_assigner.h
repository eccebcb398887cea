// Which windows a row belongs to. Tumbling and sliding windows are [start, end) with starts
// aligned to the epoch plus the offset (Flink's TimeWindow.getWindowStartWithOffset). A sliding
// window is cut into panes of gcd(size, slide): a row goes to exactly one pane and a window is
// the union of the size / pane panes that end in (window_end - size, window_end]. A tumbling
// window is a sliding window whose slide is its size (one pane per window).
#pragma once

#include <cstdint>
#include <string>

#include "core/time_arithmetic.h"
#include "ops/window_aggregate.h"

namespace millstream {

class SliceAssigner {
 public:
  // Checks the spec (UserError naming `operator_name`): size > 0, 0 < slide <= size.
  SliceAssigner(const WindowSpec& spec, const std::string& operator_name);

  int64_t size_ms() const { return size_ms_; }
  int64_t slide_ms() const { return slide_ms_; }
  int64_t pane_ms() const { return pane_ms_; }
  // Panes per window (1 for tumbling windows).
  int64_t panes_per_window() const { return size_ms_ / pane_ms_; }

  // End of the pane holding time t.
  int64_t PaneEnd(int64_t time_ms) const {
    return SaturatingAdd(FloorDiv(time_ms - offset_ms_, pane_ms_) * pane_ms_ + offset_ms_,
                         pane_ms_);
  }
  // The smallest window end after time t: the first window to fire that holds t (or a pane
  // starting at t).
  int64_t FirstWindowEndAfter(int64_t time_ms) const {
    return SaturatingAdd(FloorDiv(time_ms - end_phase_ms_, slide_ms_) * slide_ms_ + end_phase_ms_,
                         slide_ms_);
  }
  // The end of the last window holding the pane that ends at pane_end: all windows holding the
  // pane's rows end in [FirstWindowEndAfter(pane_start), LastWindowEnd(pane_end)], every slide.
  int64_t LastWindowEnd(int64_t pane_end_ms) const {
    int64_t pane_start = pane_end_ms - pane_ms_;
    return SaturatingAdd(FloorDiv(pane_start - offset_ms_, slide_ms_) * slide_ms_ + offset_ms_,
                         size_ms_);
  }
  // The smallest window end at or after t.
  int64_t WindowEndAtOrAfter(int64_t time_ms) const {
    return FirstWindowEndAfter(time_ms - 1);
  }

 private:
  int64_t size_ms_, slide_ms_, pane_ms_, offset_ms_, end_phase_ms_;
};

}  // namespace millstream
