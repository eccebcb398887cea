// CSV, parsed by hand: Arrow's CSV reader does ~3.4 M rows/s on one core where DuckDB and polars
// do 8-9 M. Fields are parsed in place straight into the batch's columns; only quoted fields
// are copied (to undo doubled quotes). An unquoted empty field is null (for strings too); a
// quoted empty field "" is an empty string. See csv_fields.h for quoting and its limitation.
// Values are parsed by csv_record_decoder.h, which Kafka messages in format csv share.
#pragma once

#include <memory>
#include <vector>

#include "formats/csv_layout.h"
#include "formats/text_reader.h"

namespace millstream {

// A reader for lines of text in memory readable up to `readable_end` (the reader loads 16
// bytes at a time within it).
std::unique_ptr<TextRowReader> MakeCsvReader(std::vector<ColumnSpec> specs, CsvLayout layout,
                                             char delimiter, const char* readable_end);

}  // namespace millstream
