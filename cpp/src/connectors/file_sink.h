// Sinks that write one file: CSV, JSON Lines or Parquet. Rows go to "<path>.tmp-<pid>" in the
// same directory, which Finish() renames into place (atomic on one file system): a reader never
// sees half a file, and a failed run (Abort(), or destruction without Finish()) leaves none.
//
//   auto sink = MakeCsvSink("out/result.csv", schema);
//   for (const auto& batch : batches) sink->Write(batch);
//   sink->Finish();   // out/result.csv appears now
//
// Checkpoints (issue 17) make the file two-phase across restarts: PrepareCheckpoint makes the
// rows written so far durable (still under the temporary name) and records in the checkpoint
// where they end; a restarted run's Restore continues from exactly there, dropping whatever the
// crashed run wrote after it, so the final file is the one a run without the crash writes.
// CSV and JSON Lines: the temporary file is fsynced and its length recorded; Restore adopts the
// crashed run's temporary file and truncates it to that length. Parquet cannot be cut (its
// footer comes last): each checkpoint closes the rows since the last one as a Parquet part file
// (hard-linked into the checkpoint, so that the checkpoint holds them), and Finish writes the
// final file from the parts in order. A run without checkpoints writes as before.
#pragma once

#include <memory>
#include <string>

#include "core/batch.h"
#include "core/snapshot.h"

namespace millstream {

class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual void Write(const BatchPtr& batch) = 0;  // called serially from one thread
  virtual void Finish() = 0;                      // flush, close, rename the temp file into place
  virtual void Abort() = 0;                       // remove the temp file: a failed run leaves no half file
  // Makes every row written so far durable and writes into target.directory what Restore needs.
  // The default throws UserError: the sink cannot take part in checkpoints.
  virtual void PrepareCheckpoint(const SnapshotTarget& target);
  // A completed checkpoint's rows may become visible (Sink::CommitCheckpoint); by default
  // nothing, as a bounded file appears at Finish.
  virtual void CommitCheckpoint(int64_t checkpoint_id) { (void)checkpoint_id; }
  // Before any Write: continue from the rows a checkpoint's PrepareCheckpoint made durable
  // (`directory` is its target.directory). Throws UserError when they are gone.
  virtual void Restore(const std::string& directory);
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
