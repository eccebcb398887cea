// In-memory input (from_arrow / from_pandas / from_records): a table cut into contiguous slices,
// one split each, emitted in batches of batch_size rows without copying. `single_split`: one
// split whatever the parallelism, the rows in their order (the testing kit's events, whose
// watermarks between rows hold for the whole stream: one split has one watermark).
#pragma once

#include <arrow/table.h>

#include "connectors/source.h"

namespace millstream {

std::shared_ptr<Source> MakeTableSource(std::shared_ptr<arrow::Table> table, std::string name,
                                        int64_t batch_size, bool single_split = false);

}  // namespace millstream
