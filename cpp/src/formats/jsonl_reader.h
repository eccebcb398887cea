// JSON Lines: one JSON object a line, parsed with simdjson's DOM parser line by line (measured
// faster than its On-Demand API for rows of a few fields: 9.3 vs 8.0 M rows/s on the benchmark
// file, see benchmarks/cpp/read_files_bench.cpp). Keys are matched to the schema's columns by
// name in any order; keys not in the schema are ignored; a missing key or null is a null; a
// duplicate key's last value wins (as Python's json module does).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/mapped_file.h"
#include "formats/text_reader.h"

namespace millstream {

// A reader for lines of one file whose mapping ends at `readable_end` (lines far enough from
// it are parsed in place; simdjson reads up to 64 bytes past a document).
std::unique_ptr<TextRowReader> MakeJsonlReader(std::vector<ColumnSpec> specs,
                                               const char* readable_end);

// The schema of the first `max_rows` objects of `files` (in order): keys in order of first
// appearance; int64, float64 (numbers with a fraction, or integers mixed with them), bool or
// string; a key that is only ever null is a string. Throws UserError when no line is an
// object, or when a key holds nested values or both strings and numbers.
SchemaPtr InferJsonlSchema(const std::vector<std::shared_ptr<const MappedFile>>& files,
                           int64_t max_rows);

}  // namespace millstream
