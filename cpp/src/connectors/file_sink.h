// Sinks that write one file: CSV, JSON Lines or Parquet. Rows go to "<path>.tmp-<pid>" in the
// same directory, which Finish() renames into place (atomic on one file system): a reader never
// sees half a file, and a failed run (Abort(), or destruction without Finish()) leaves none.
//
//   auto sink = MakeCsvSink("out/result.csv", schema);
//   for (const auto& batch : batches) sink->Write(batch);
//   sink->Finish();   // out/result.csv appears now
#pragma once

#include <memory>
#include <string>

#include "core/batch.h"

namespace millstream {

class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual void Write(const BatchPtr& batch) = 0;  // called serially from one thread
  virtual void Finish() = 0;                      // flush, close, rename the temp file into place
  virtual void Abort() = 0;                       // remove the temp file: a failed run leaves no half file
};

// Each factory creates the temp file at once, so a directory that does not exist or cannot be
// written is a UserError before the run starts; so is a column type the format cannot hold.
// A header row; RFC-4180 quoting; nulls as empty fields, empty strings as "".
std::unique_ptr<FileSink> MakeCsvSink(const std::string& path, SchemaPtr schema);
// One JSON object a line; nulls as null; timestamps as ISO-8601 text.
std::unique_ptr<FileSink> MakeJsonlSink(const std::string& path, SchemaPtr schema);
// parquet::arrow::FileWriter, Snappy-compressed, with the Arrow schema stored (time zones and
// units survive a round trip).
std::unique_ptr<FileSink> MakeParquetSink(const std::string& path, SchemaPtr schema);

}  // namespace millstream
