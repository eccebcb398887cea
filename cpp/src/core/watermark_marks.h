// The watermark in force before rows of a batch, where it changes: how a batch carries the
// watermark advances that happen between its rows, so that which rows are late does not depend
// on where batches are cut (docs/design-notes.md, "Watermarks travel inside batches").
//
// A mark {row, watermark_ms} says: before `row` (and every later row of the batch) the watermark
// is `watermark_ms`. Marks are in ascending row order with ascending watermarks; rows before
// the first mark have the watermark that was in force when the batch started. A mark at
// row == num_rows (after the last row) is not kept: the watermark sent after the batch says it.
//
// Example: rows with times 10, 20, 5 and max_delay 0 carry {{2, 20}}: row 2 (time 5) comes after
// the watermark 20 and is late for a window ending at or before 20, at any batch size.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace millstream {

struct WatermarkMark {
  int64_t row = 0;
  int64_t watermark_ms = 0;
};

using WatermarkMarks = std::vector<WatermarkMark>;
using WatermarkMarksPtr = std::shared_ptr<const WatermarkMarks>;

// The marks of the rows `selected` (ascending row numbers, `count` of them) of a batch, numbered
// in the selection: a mark before row r goes before the first selected row at or after r; marks
// that fall on the same selected row keep the last (largest) watermark; marks after the last
// selected row are dropped (the watermark after the batch covers them).
WatermarkMarks SelectMarks(const WatermarkMarks& marks, const int32_t* selected, int64_t count);

}  // namespace millstream
