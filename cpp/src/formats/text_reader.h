// A reader of one text format (JSON Lines, CSV) over one file's byte range, owned by one split.
// Ranges begin at line starts, so P splits of a file parse it in parallel.
#pragma once

#include "formats/bad_rows.h"
#include "formats/column_buffers.h"

namespace millstream {

class TextRowReader {
 public:
  virtual ~TextRowReader() = default;
  // Parses the lines from `cursor` (a line start) on, appending good rows to `columns` and
  // reporting bad ones to `bad_rows`, until `columns` is full, kMaxBatchTextBytes were read, or
  // `range_end` is reached. Returns the start of the first line not read.
  virtual const char* ReadRows(const char* cursor, const char* range_end, ColumnBuffers& columns,
                               BadRows& bad_rows) = 0;

 protected:
  // Whether ReadRows goes on to the line at `cursor`, having started at `start`: the range has
  // more, `columns` has room, and fewer than kMaxBatchTextBytes were read.
  static bool ReadsOn(const char* start, const char* cursor, const char* range_end,
                      const ColumnBuffers& columns) {
    return cursor < range_end && columns.rows() < columns.capacity() &&
           cursor - start < kMaxBatchTextBytes;
  }
};

}  // namespace millstream
