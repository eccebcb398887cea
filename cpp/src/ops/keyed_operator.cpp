#include "ops/keyed_operator.h"

#include "core/error.h"

namespace millstream {

void KeyedOperatorState::OnMarkedBatch(const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
                                       const WatermarkMarks& marks, Emitter& out) {
  int64_t begin = 0;
  auto part = [&](int64_t end) {
    if (end == begin) return;
    const std::vector<uint16_t> groups(key_groups.begin() + begin, key_groups.begin() + end);
    OnBatch(rows->Slice(begin, end - begin), groups, out);
  };
  for (const WatermarkMark& mark : marks) {
    MS_CHECK(mark.row >= begin && mark.row < rows->num_rows(), "watermark marks out of order");
    part(mark.row);
    begin = mark.row;
    OnWatermark(mark.watermark_ms, out);
    out.Watermark(mark.watermark_ms);
  }
  part(rows->num_rows());
}

void KeyedOperatorState::OnInputBatch(int input, const BatchPtr& rows,
                                      const std::vector<uint16_t>& key_groups,
                                      const WatermarkMarks* marks, Emitter& out) {
  MS_CHECK(input == 0, "a batch of input " + std::to_string(input) + " for an operator of one input");
  if (marks != nullptr) {
    OnMarkedBatch(rows, key_groups, *marks, out);
  } else {
    OnBatch(rows, key_groups, out);
  }
}

void KeyedOperatorState::Snapshot(const SnapshotTarget& target) {
  (void)target;
  throw UserError("this keyed operator cannot be checkpointed yet");
}

}  // namespace millstream
