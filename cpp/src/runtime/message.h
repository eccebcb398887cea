// What travels in a channel, in order: batches, watermarks, checkpoint barriers, and the end of
// an input. Watermarks travel with the batches, so lateness does not depend on batching.
// Two kinds go to an actor directly, not down a channel (input kDirectInput): a checkpoint's
// notice (kBarrier: a checkpoint started; an actor whose inputs all ended acks it at once) and a
// sink's commit (kCommit: the checkpoint is complete).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/batch.h"
#include "core/watermark_marks.h"

namespace millstream {

struct Message {
  enum class Kind { kBatch, kWatermark, kIdle, kBarrier, kEnd, kCommit };
  static constexpr int kDirectInput = -1;
  Kind kind = Kind::kBatch;
  int input = 0;                  // the receiving actor's input channel
  BatchPtr batch;                 // kBatch
  std::shared_ptr<const std::vector<uint16_t>> key_groups;  // kBatch into a keyed operator
  WatermarkMarksPtr marks;        // kBatch: watermarks that advance between its rows (or null)
  uint64_t origin = 0;            // kBatch: the source (all its splits) or keyed subtask the
  uint64_t sequence = 0;          //   rows came from, and their position there (sinks restore
                                  //   the input's order with them)
  int64_t watermark_ms = 0;       // kWatermark
  int64_t checkpoint_id = 0;      // kBarrier, kCommit
};

}  // namespace millstream
