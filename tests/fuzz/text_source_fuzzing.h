// What the JSON Lines and CSV fuzz targets share: the input as a file, read by a source with
// dead letters on, and the invariants that any input must keep: reading in one block or in
// many small ones (block edges at other lines) gives the same rows and dead letters, and three
// splits give as many of each.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <arrow/api.h>

#include "connectors/source.h"
#include "core/bad_input.h"
#include "core/error.h"

namespace millstream::fuzzing {

// A file that holds `data`, in a directory of this process (removed at exit).
inline std::string InputFile(const uint8_t* data, size_t size, const char* extension) {
  static const std::string directory = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "millstream-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }();
  const std::string path = directory + "/input." + extension;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  return path;
}

struct ReadBack {
  std::shared_ptr<arrow::Table> rows, dead_letters;
};

inline ReadBack ReadSource(const Source& source, int max_splits) {
  std::vector<BatchPtr> rows, dead;
  OperatorMetrics metrics("fuzz");
  for (auto& split : source.CreateSplits(max_splits, &metrics)) {
    for (int guard = 0;; ++guard) {
      if (guard > 1000000) throw std::runtime_error("a split did not end");
      SplitOutput output = split->Next();
      if (output.rows && output.rows->num_rows() > 0) rows.push_back(output.rows);
      if (output.dead_letters) dead.push_back(output.dead_letters);
      if (output.end) break;
    }
  }
  return {CheckArrow(arrow::Table::FromRecordBatches(source.schema(), rows), "rows"),
          CheckArrow(arrow::Table::FromRecordBatches(DeadLetterSchema(), dead), "dead letters")};
}

using MakeSource = std::function<std::shared_ptr<Source>(SourceOptions)>;

inline void CheckInvariants(const MakeSource& make) {
  SourceOptions whole;
  whole.on_error = OnError::kDeadLetter;
  SourceOptions small_blocks = whole;
  small_blocks.split_block_bytes = 64;
  small_blocks.batch_size = 3;
  const ReadBack one = ReadSource(*make(whole), 1);
  const ReadBack blocks = ReadSource(*make(small_blocks), 1);
  if (!one.rows->Equals(*blocks.rows) || !one.dead_letters->Equals(*blocks.dead_letters)) {
    throw std::runtime_error("rows or dead letters differ between one block and 64-byte blocks");
  }
  const ReadBack splits = ReadSource(*make(small_blocks), 3);
  if (splits.rows->num_rows() != one.rows->num_rows() ||
      splits.dead_letters->num_rows() != one.dead_letters->num_rows()) {
    throw std::runtime_error("three splits read " + std::to_string(splits.rows->num_rows()) + " rows and " +
                             std::to_string(splits.dead_letters->num_rows()) + " dead letters, one split " +
                             std::to_string(one.rows->num_rows()) + " and " +
                             std::to_string(one.dead_letters->num_rows()));
  }
}

// id int64, price float64, name utf8, ts timestamp[ms], ok bool.
inline SchemaPtr FuzzSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64()),
                        arrow::field("name", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI)),
                        arrow::field("ok", arrow::boolean())});
}

}  // namespace millstream::fuzzing
