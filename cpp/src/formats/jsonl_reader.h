// JSON Lines: one JSON object a line, parsed with simdjson's DOM parser line by line. DOM was
// the faster of simdjson's two APIs for rows of a few fields: a parse-only loop (memchr for the
// line, parse, read 3 fields) over 20 M rows shaped as in benchmarks/cpp/read_files_bench.cpp
// ran at 9.3 M rows/s with DOM and 8.0 M with On-Demand (one core, quiet machine), and at 8.6
// vs 7.3 M rows per CPU second on the benchmark's own file (busy machine). DOM also validates
// the whole line, where On-Demand skips the values of keys it is not asked for unchecked.
// Each line is decoded by JsonObjectDecoder (formats/json_object_decoder.h), which Kafka
// messages share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/input_file.h"
#include "formats/text_reader.h"

namespace millstream {

// A reader for lines of text in memory readable up to `readable_end` (lines far enough from
// it are parsed in place; simdjson reads up to 64 bytes past a document).
std::unique_ptr<TextRowReader> MakeJsonlReader(std::vector<ColumnSpec> specs,
                                               const char* readable_end);

// The schema of the first `max_rows` objects of `files` (in order): keys in order of first
// appearance; int64, float64 (numbers with a fraction, or integers mixed with them), bool or
// string; a key that is only ever null is a string. Throws UserError when no line is an
// object, or when a key holds nested values or both strings and numbers.
SchemaPtr InferJsonlSchema(const std::vector<std::shared_ptr<const InputFile>>& files,
                           int64_t max_rows);

}  // namespace millstream
