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

}  // namespace millstream
