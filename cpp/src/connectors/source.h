// A source is an immutable description (path, schema, options); reading happens through its
// splits (file byte ranges, DataFrame slices, later Kafka partitions), each owned by one task
// at a time and read in order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"
#include "runtime/metrics.h"

namespace millstream {

enum class OnError { kRaise, kSkip, kDeadLetter };

OnError ParseOnError(const std::string& name);  // "raise" | "skip" | "dead_letter"

// Columns of the dead-letter stream: source (file path), line (1-based physical line, null
// where the source has no lines), field (null when the row as a whole is bad), reason, raw.
SchemaPtr DeadLetterSchema();

struct SplitOutput {
  BatchPtr rows;          // may be null or empty when a chunk held only bad rows
  BatchPtr dead_letters;  // rows in DeadLetterSchema(); null when there are none
  bool end = false;       // the split has no more rows (rows/dead_letters may still be set)
};

class SourceSplit {
 public:
  virtual ~SourceSplit() = default;
  // Reads the next chunk; throws UserError on bad input when on_error is "raise".
  virtual SplitOutput Next() = 0;
};

struct SourceOptions {
  int64_t batch_size = kDefaultBatchSize;
  OnError on_error = OnError::kRaise;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual SchemaPtr schema() const = 0;
  // A short name for errors and metrics, e.g. "read_jsonl(events/*.jsonl)".
  virtual std::string name() const = 0;
  // Cuts the input into at most `max_splits` splits (more files may give more splits).
  virtual std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                                 OperatorMetrics* metrics) const = 0;
};

}  // namespace millstream
