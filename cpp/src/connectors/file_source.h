// Sources over files: JSON Lines, CSV and Parquet, from one path or a glob (connectors/
// file_paths.h). Text files are memory-mapped and cut into byte ranges at line starts, so that
// P workers parse one file in parallel; Parquet files are cut into row groups. The schema is
// known right after construction (inferred from the first kInferenceRows rows when not given).
//
//   auto source = MakeJsonlSource("events/*.jsonl", nullptr, SourceOptions{});
//   source->schema();   // e.g. id: int64, price: double, name: string
//   for (auto& split : source->CreateSplits(4, metrics)) { ... split->Next() ... }
#pragma once

#include <memory>
#include <string>

#include "connectors/source.h"
#include "formats/csv_layout.h"  // CsvOptions

namespace millstream {

// Rows read to infer a schema when none is given.
constexpr int64_t kInferenceRows = 1000;

// schema == nullptr: inferred from the first rows as int64, float64, bool or string (timestamps
// are not inferred). A field with nullable() == false is required: a row without it (missing,
// null or empty) is bad input. Column types: int64, float64, bool, string, timestamp (ISO-8601
// text or an epoch integer in the column's unit).
std::shared_ptr<Source> MakeJsonlSource(const std::string& path_or_glob, SchemaPtr schema,
                                        SourceOptions options);
std::shared_ptr<Source> MakeCsvSource(const std::string& path_or_glob, SchemaPtr schema,
                                      SourceOptions options, CsvOptions csv = {});

// Streams record batches per row group with parquet::arrow::FileReader (a file is never read
// whole into memory); a split is a run of row groups. Every file must have the first file's
// schema.
std::shared_ptr<Source> MakeParquetSource(const std::string& path_or_glob, SourceOptions options);

}  // namespace millstream
