// How the fields of one CSV file map onto the schema's columns: by name through the header
// row (extra columns in the file are not read), or by position without one. Also infers a
// schema from the first rows when none is given.
#pragma once

#include <memory>
#include <vector>

#include "core/batch.h"
#include "formats/column_buffers.h"
#include "formats/input_file.h"

namespace millstream {

struct CsvOptions {
  char delimiter = ',';
  bool header = true;
};

struct CsvLayout {
  int64_t data_begin = 0;    // offset of the first byte after the BOM and the header row
  int field_count = 0;               // the fields every row must have
  std::vector<int> targets;          // per field of the file: its schema column, or -1
};

// Throws UserError naming the file and column when the header lacks a column of `specs`
// (or holds it twice), or when the header row is malformed.
CsvLayout MakeCsvLayout(const InputFile& file, const std::vector<ColumnSpec>& specs,
                        const CsvOptions& options);

// Column names from the first file's header ("column_1", ... without one); types from the
// first `max_rows` data rows (of the first few MB of each file): int64, float64, bool, else string (empty fields do not count;
// a column with only empty fields is a string). Throws UserError when there is no data row.
SchemaPtr InferCsvSchema(const std::vector<std::shared_ptr<const InputFile>>& files,
                         const CsvOptions& options, int64_t max_rows);

}  // namespace millstream
