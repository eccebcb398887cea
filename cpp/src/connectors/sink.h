// Where a run's rows end: one interface for every sink, and the registry of sink kinds the plan
// names ("sink": "csv"). The executor drives a sink from one actor and knows no kind by name.
//
//   const SinkKind* kind = FindSinkKind("csv");
//   std::unique_ptr<Sink> sink = kind->make({.path = "out.csv"}, schema);
//   sink->Write(batch, origin, sequence);
//   sink->Finish();   // out.csv appears now
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/file_sink.h"
#include "connectors/kafka_sink.h"
#include "core/batch.h"
#include "core/snapshot.h"

namespace millstream {

// A Python function (for_each_batch) or any C++ function called with every batch.
using SinkCallback = std::function<void(const BatchPtr&)>;

class Sink {
 public:
  virtual ~Sink() = default;
  // Called serially from one thread. `origin` and `sequence` place the batch among the batches
  // of its source (its chunks in read order): a sink that keeps rows orders them by the pair.
  virtual void Write(BatchPtr batch, uint64_t origin, uint64_t sequence) = 0;
  // Every input ended: make the output final (a file is renamed into place).
  virtual void Finish() = 0;
  // The run failed or was cancelled before Finish(): leave no partial output.
  virtual void Abort() {}
  // The rows the run hands back to its caller (collect()), in source order; nullopt for a sink
  // that writes them elsewhere.
  virtual std::optional<std::vector<BatchPtr>> TakeRows() { return std::nullopt; }

  // ---- checkpoints (issue 17): two-phase commit -------------------------------------------
  // A barrier reached the sink on every input: make what was written so far durable but not
  // yet visible (flush and sync a pending part file, a Kafka transaction's records) and write
  // into target.directory what Restore needs. Throws UserError for a sink that cannot take
  // part in checkpoints.
  virtual void PrepareCheckpoint(const SnapshotTarget& target);
  // Checkpoint `checkpoint_id` is complete (every actor acknowledged it, its manifest is
  // written): make its output visible (rename a rolled part file, commit the transaction).
  virtual void CommitCheckpoint(int64_t checkpoint_id);
  // A restored run, before any Write: continue from what PrepareCheckpoint wrote into
  // `directory` (truncate the pending file to its length then, reload collected rows), dropping
  // everything written after it.
  virtual void Restore(const std::string& directory);
};

// What a sink kind is made from; each kind reads only the settings it takes (SinkKind).
struct SinkSettings {
  std::string path;        // file sinks: the final path
  SinkCallback callback;   // callback sink
  const KafkaSinkOptions* kafka = nullptr;  // kafka sink
  // File sinks of an unbounded run with checkpoints (set by the runtime): `path` becomes a
  // directory of part files, one per checkpoint (MakeRollingFileSink).
  bool roll_per_checkpoint = false;
};

struct SinkKind {
  std::string_view name;   // as the plan spells it
  bool takes_path = false;
  bool takes_callback = false;
  // Throws UserError when the output cannot be made (a directory that does not exist, a
  // column type the format cannot hold).
  std::unique_ptr<Sink> (*make)(const SinkSettings& settings, SchemaPtr schema) = nullptr;
  bool takes_kafka = false;  // Kafka options: the node's handle indexes PlanHandles::kafka_sinks
};

// The registered kind of this name, or nullptr.
const SinkKind* FindSinkKind(std::string_view name);
// The names of every kind, comma-separated, for messages.
std::string SinkKindNames();

// The kinds behind the registry.
std::unique_ptr<Sink> MakeCollectSink();
std::unique_ptr<Sink> MakeCallbackSink(SinkCallback callback);
// Writes through a FileSink: CSV, JSON Lines or Parquet.
std::unique_ptr<Sink> MakeFileOutputSink(std::unique_ptr<FileSink> file);
// An unbounded run with checkpoints: `directory` holds one part file per checkpoint
// (part-<checkpoint>-0.<extension>), each renamed into place when its checkpoint completed
// (connectors/rolling_file_sink.cpp).
using FileSinkFactory = std::unique_ptr<FileSink> (*)(const std::string& path, SchemaPtr schema);
std::unique_ptr<Sink> MakeRollingFileSink(const std::string& directory, const std::string& extension,
                                          FileSinkFactory make_file, SchemaPtr schema);

}  // namespace millstream
