#include "core/watermark_marks.h"

#include <algorithm>

namespace millstream {

WatermarkMarks SelectMarks(const WatermarkMarks& marks, const int32_t* selected, int64_t count) {
  WatermarkMarks out;
  const int32_t* end = selected + count;
  const int32_t* position = selected;
  for (const WatermarkMark& mark : marks) {
    position = std::lower_bound(position, end, mark.row);
    if (position == end) break;
    const int64_t row = position - selected;
    if (!out.empty() && out.back().row == row) {
      out.back().watermark_ms = mark.watermark_ms;
    } else {
      out.push_back(WatermarkMark{row, mark.watermark_ms});
    }
  }
  return out;
}

}  // namespace millstream
