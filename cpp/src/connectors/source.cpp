#include "connectors/source.h"

#include "core/error.h"

namespace millstream {

std::string SourceSplit::Position() const {
  throw UserError("this source cannot be checkpointed yet");
}

std::vector<std::unique_ptr<SourceSplit>> Source::CreateSplitsAfter(
    const std::vector<std::string>& positions, int max_splits, OperatorMetrics* metrics) const {
  (void)positions;
  (void)max_splits;
  (void)metrics;
  throw UserError(name() + " cannot be restored from a checkpoint yet");
}

std::shared_ptr<Source> Source::WithColumns(const std::vector<std::string>& columns) const {
  (void)columns;
  throw UserError(name() + " reads every column: the plan cannot ask it for fewer");
}

std::shared_ptr<Source> Source::WithRowFilter(const std::string& predicate_json) const {
  (void)predicate_json;
  throw UserError(name() + " reads every row: the plan cannot push a filter into it");
}

std::vector<int> SourceColumnIndices(const arrow::Schema& schema,
                                     const std::vector<std::string>& columns,
                                     const std::string& source) {
  if (columns.empty()) throw UserError(source + ": the plan asks it to read no column");
  std::vector<int> indices;
  for (const auto& column : columns) {
    const int index = schema.GetFieldIndex(column);
    if (index < 0 || (!indices.empty() && index <= indices.back())) {
      throw UserError(source + ": the plan asks it to read '" + column + "', which is not one " +
                      "of its columns (" + schema.ToString() + ") in their order");
    }
    indices.push_back(index);
  }
  return indices;
}

}  // namespace millstream
