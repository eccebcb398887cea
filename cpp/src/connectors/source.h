// A source is an immutable description (path, schema, options); reading happens through its
// splits (file byte ranges, DataFrame slices, later Kafka partitions), each owned by one task
// at a time and read in order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"
#include "core/bad_input.h"
#include "core/metrics.h"

namespace millstream {

struct SplitOutput {
  BatchPtr rows;          // may be null or empty when a chunk held only bad rows
  BatchPtr dead_letters;  // rows in DeadLetterSchema(); null when there are none
  bool end = false;       // the split has no more rows (rows/dead_letters may still be set)
  // No rows now, but the split has not ended (an unbounded source waiting for data): the
  // executor asks again after a short wait, on a timer, instead of at once; meanwhile it
  // tells the chains how long the split has been silent (idle partitions, Chain::PushSilence).
  // Next() must not block waiting for data: it returns `waiting` instead.
  bool waiting = false;
  // Where the chunk stands in the source's order (ChunkPosition): sinks order a source's
  // batches by it, so that collect() returns the input's order whatever the splits.
  uint64_t position = 0;
};

// The position of the `part`-th chunk of block `block` (blocks: see Source::CreateSplits). A
// chunk never holds rows of two blocks.
inline uint64_t ChunkPosition(uint64_t block, uint64_t part) { return block << 24 | part; }
inline uint64_t BlockOfPosition(uint64_t position) { return position >> 24; }

class SourceSplit {
 public:
  virtual ~SourceSplit() = default;
  // Reads the next chunk; throws UserError on bad input when on_error is "raise".
  virtual SplitOutput Next() = 0;
  // Called once the run has succeeded (every sink finished), on every split: a Kafka split
  // commits the offsets it read to its consumer group. Throws UserError when that fails.
  // For an unbounded source (Source::bounded() false) on a stopped run, the same: the executor
  // stopped asking for chunks, every chunk returned was taken by every sink, and the split
  // commits what it returned.
  virtual void OnRunSucceeded() {}
  // The executor holds the split back (its watermark ran too far ahead of its source's slowest
  // split: runtime/executor.cpp WatermarkAlignment) and will not ask for chunks until Resume():
  // a Kafka split pauses its partition's fetching, so the records wait in the broker, not in
  // memory. Called from any worker, never while Next() runs on the split.
  virtual void Pause() {}
  virtual void Resume() {}
  // Checkpoints (issue 17): where the split stands between two Next() calls, as bytes only its
  // source reads back (Source::CreateSplitsAfter): every row returned so far is before it, none
  // after. Throws UserError for a source that cannot be checkpointed.
  virtual std::string Position() const;
};

struct SourceOptions {
  int64_t batch_size = kDefaultBatchSize;
  OnError on_error = OnError::kRaise;
  // Text files: the size of the blocks splits take turns at (interleaved splits, below). Small
  // enough that splits stay close in the input (under a second of a typical event stream),
  // large enough that starting a block costs nothing measurable.
  int64_t split_block_bytes = 8 << 20;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual SchemaPtr schema() const = 0;
  // A short name for errors and metrics, e.g. "read_jsonl(events/*.jsonl)".
  virtual std::string name() const = 0;
  // False for a source that never ends by itself (Kafka without stop="end"): its run goes on
  // until stopped (Executor::RequestStop), so it cannot be collected into a table.
  virtual bool bounded() const { return true; }
  // Cuts the input into at most `max_splits` splits. Splits interleave: the input is cut into
  // blocks (row groups, a batch of rows, a few MB of text) dealt round-robin, split k reading
  // blocks k, k + n, k + 2n, ... in order. Splits run at about the same pace, so they read the
  // same stretch of the input at the same time: on input ordered by event time their watermarks,
  // and the operators' watermark (the minimum), advance together. Contiguous shares would hold
  // the watermark at the first share's pace and every later share's windows open meanwhile.
  // With one split the input is read in its order. A Kafka source is the exception: one split
  // per partition whatever `max_splits` (connectors/kafka_source.h), as each partition has its
  // own order and watermark; its chunks' block is the partition's index, so they never wait
  // for each other in the executor's block alignment.
  virtual std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                                 OperatorMetrics* metrics) const = 0;
  // A restored run: splits that read exactly what the earlier run's splits had not returned,
  // given their Position()s (one per split of that run, whatever their number; the new run
  // may have another). Chunk positions keep the input's order (ChunkPosition of the same
  // blocks as a fresh run), so sinks order restored and new rows alike. Throws UserError for
  // positions of another input (a changed file).
  virtual std::vector<std::unique_ptr<SourceSplit>> CreateSplitsAfter(
      const std::vector<std::string>& positions, int max_splits, OperatorMetrics* metrics) const;
  // Projection pushdown: a source like this one that reads only `columns` (names of schema(),
  // in its order; SourceColumnIndices checks them), so that what nobody reads is never decoded.
  // The default refuses with a UserError: only file sources are asked (python _pushdown.py).
  virtual std::shared_ptr<Source> WithColumns(const std::vector<std::string>& columns) const;
  // Predicate pushdown: a source like this one that may leave out input that no row of which
  // makes `predicate_json` (an expression over schema()) true; the filter after it still judges
  // every row it gives. The default refuses with a UserError: only Parquet sources are asked.
  virtual std::shared_ptr<Source> WithRowFilter(const std::string& predicate_json) const;
};

// The indices in `schema` of `columns`, which must be distinct names of it in its order, at
// least one; throws UserError naming `source` otherwise.
std::vector<int> SourceColumnIndices(const arrow::Schema& schema,
                                     const std::vector<std::string>& columns,
                                     const std::string& source);

}  // namespace millstream
