#include "runtime/watermark_tracker.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace millstream {

WatermarkTracker::WatermarkTracker(int num_inputs) : inputs_(num_inputs) {
  MS_CHECK(num_inputs >= 1, "an operator needs at least one input");
}

WatermarkTracker::Input& WatermarkTracker::input(int index) {
  MS_CHECK(index >= 0 && index < num_inputs(),
           "input " + std::to_string(index) + " of " + std::to_string(num_inputs()));
  return inputs_[index];
}

bool WatermarkTracker::Update(int index, int64_t watermark_ms) {
  Input& entry = input(index);
  if (entry.state == InputState::kEnded) return false;  // nothing counts after its end
  entry.state = InputState::kActive;
  entry.watermark_ms = std::max(entry.watermark_ms, watermark_ms);
  return Recompute();
}

bool WatermarkTracker::MarkIdle(int index) {
  Input& entry = input(index);
  if (entry.state != InputState::kActive) return false;
  entry.state = InputState::kIdle;
  return Recompute();
}

void WatermarkTracker::MarkActive(int index) {
  Input& entry = input(index);
  // Becoming active cannot advance the minimum; it only makes the input count again.
  if (entry.state == InputState::kIdle) entry.state = InputState::kActive;
}

bool WatermarkTracker::End(int index) {
  Input& entry = input(index);
  if (entry.state == InputState::kEnded) return false;
  entry.state = InputState::kEnded;
  entry.watermark_ms = kFinalWatermarkMs;
  return Recompute();
}

bool WatermarkTracker::Recompute() {
  int64_t minimum_ms = kFinalWatermarkMs;
  bool any_active = false;
  bool all_ended = true;
  for (const Input& entry : inputs_) {
    if (entry.state == InputState::kActive) {
      any_active = true;
      minimum_ms = std::min(minimum_ms, entry.watermark_ms);
    }
    if (entry.state != InputState::kEnded) all_ended = false;
  }
  int64_t candidate_ms;
  if (any_active) {
    candidate_ms = minimum_ms;
  } else if (all_ended) {
    candidate_ms = kFinalWatermarkMs;
  } else {
    // Only idle (and ended) inputs. None holds the watermark back, but the idle ones have not
    // ended, so not +inf: the largest watermark an idle input reached (as Flink's valve does).
    // This gives the same result whichever input went idle last.
    candidate_ms = kMinWatermarkMs;
    for (const Input& entry : inputs_) {
      if (entry.state == InputState::kIdle) candidate_ms = std::max(candidate_ms, entry.watermark_ms);
    }
  }
  if (candidate_ms <= current_ms_) return false;
  current_ms_ = candidate_ms;
  return true;
}

std::vector<int64_t> WatermarkTracker::SaveState() const {
  std::vector<int64_t> state{current_ms_};
  for (const Input& entry : inputs_) {
    state.push_back(entry.watermark_ms);
    state.push_back(static_cast<int64_t>(entry.state));
  }
  return state;
}

void WatermarkTracker::RestoreState(const std::vector<int64_t>& state) {
  MS_CHECK(state.size() == 1 + 2 * inputs_.size(),
           "a tracker state of " + std::to_string((state.size() - 1) / 2) + " inputs restored into " +
               std::to_string(inputs_.size()));
  current_ms_ = state[0];
  for (size_t i = 0; i < inputs_.size(); ++i) {
    inputs_[i].watermark_ms = state[1 + 2 * i];
    const int64_t input_state = state[2 + 2 * i];
    MS_CHECK(input_state >= 0 && input_state <= static_cast<int64_t>(InputState::kEnded),
             "a tracker input state out of range");
    inputs_[i].state = static_cast<InputState>(input_state);
  }
}

void WatermarkTracker::RestoreAt(int64_t watermark_ms) {
  current_ms_ = watermark_ms;
  for (Input& entry : inputs_) entry = Input{watermark_ms, InputState::kActive};
}

int64_t WatermarkTracker::WatermarkOfState(const std::vector<int64_t>& state) {
  return state.empty() ? kMinWatermarkMs : state[0];
}

}  // namespace millstream
