// The watermark of an operator with several inputs (DESIGN.md, Execution model): the minimum of
// its inputs' latest watermarks, where
//   - an input marked idle does not hold it back, until it sends a batch (MarkActive) or a
//     watermark (Update) again;
//   - an input that ended counts as +inf (kFinalWatermarkMs);
//   - when every input that has not ended is idle, none holds it back: the watermark moves to the
//     largest watermark an idle input reached (not to +inf: idle inputs have not ended);
//   - nothing goes backwards: an input's smaller watermark is ignored for that input, and the
//     combined watermark never decreases (an idle input coming back behind it cannot pull it
//     back; its late rows are then late).
//
// Example:
//   WatermarkTracker tracker(2);
//   tracker.Update(0, 100);   // false: input 1 has no watermark yet
//   tracker.Update(1, 50);    // true: current() == 50
//   tracker.MarkIdle(1);      // true: current() == 100
#pragma once

#include <cstdint>
#include <vector>

#include "core/batch.h"

namespace millstream {

class WatermarkTracker {
 public:
  explicit WatermarkTracker(int num_inputs);

  // Input `input` reached `watermark_ms` (and is active). Returns true when current() advanced.
  bool Update(int input, int64_t watermark_ms);
  // Input `input` is idle. Returns true when current() advanced.
  bool MarkIdle(int input);
  // Input `input` sent a batch: it holds the watermark back again (it cannot move it forward).
  void MarkActive(int input);
  // Input `input` ended. Returns true when current() advanced.
  bool End(int input);

  // Checkpoints: the tracker's state as numbers (the combined watermark, then each input's
  // watermark and state), and back. RestoreState takes a state of as many inputs; a run restored
  // at another parallelism has other inputs and takes RestoreAt(the old combined watermark)
  // instead: every input starts there, and the watermark never goes back.
  std::vector<int64_t> SaveState() const;
  void RestoreState(const std::vector<int64_t>& state);
  void RestoreAt(int64_t watermark_ms);
  // The combined watermark a saved state holds.
  static int64_t WatermarkOfState(const std::vector<int64_t>& state);

  // The combined watermark; kMinWatermarkMs before every active input has sent one.
  int64_t current() const { return current_ms_; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }

 private:
  enum class InputState : uint8_t { kActive, kIdle, kEnded };
  struct Input {
    int64_t watermark_ms = kMinWatermarkMs;
    InputState state = InputState::kActive;
  };
  Input& input(int index);
  bool Recompute();

  std::vector<Input> inputs_;
  int64_t current_ms_ = kMinWatermarkMs;
};

}  // namespace millstream
