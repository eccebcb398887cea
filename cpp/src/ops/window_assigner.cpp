#include "ops/window_assigner.h"

#include <numeric>

#include "core/error.h"

namespace millstream {

SliceAssigner::SliceAssigner(const WindowSpec& spec, const std::string& operator_name) {
  const bool tumbling = spec.kind == WindowSpec::Kind::kTumbling;
  const char* kind = tumbling ? "tumbling window" : "sliding window";
  if (spec.size_ms <= 0) {
    throw UserError(operator_name + ": " + kind + " size must be positive, got " +
                    std::to_string(spec.size_ms) + " ms");
  }
  size_ms_ = spec.size_ms;
  slide_ms_ = tumbling ? spec.size_ms : spec.slide_ms;
  if (slide_ms_ <= 0 || slide_ms_ > size_ms_) {
    // A slide longer than the size would drop the rows between windows without a trace.
    throw UserError(operator_name + ": sliding window slide must be in (0, size], got slide " +
                    std::to_string(spec.slide_ms) + " ms for size " +
                    std::to_string(spec.size_ms) + " ms");
  }
  pane_ms_ = std::gcd(size_ms_, slide_ms_);
  // Firing walks a window's panes and a pane's windows: bound both, so that no firing runs for
  // hours (a 2^61 ms window sliding every ms would have 2^61 panes).
  constexpr int64_t kMaxPanesPerWindow = int64_t{1} << 24;
  if (size_ms_ / pane_ms_ > kMaxPanesPerWindow) {
    throw UserError(operator_name + ": a " + kind + " of " + std::to_string(size_ms_) +
                    " ms every " + std::to_string(slide_ms_) + " ms is cut into " +
                    std::to_string(size_ms_ / pane_ms_) + " panes of " + std::to_string(pane_ms_) +
                    " ms (gcd of size and slide), more than " + std::to_string(kMaxPanesPerWindow) +
                    "; choose a size that is a multiple of a coarser slide");
  }
  // Only the offset modulo the slide matters; keeping it small keeps the arithmetic in range.
  offset_ms_ = ((spec.offset_ms % slide_ms_) + slide_ms_) % slide_ms_;
  end_phase_ms_ = (offset_ms_ + size_ms_ % slide_ms_) % slide_ms_;
}

}  // namespace millstream
