#include "state/state_backend.h"

#include "core/error.h"

namespace millstream {

void StateBackend::Checkpoint(const std::string& directory) {
  (void)directory;
  throw UserError("the " + kind() + " state backend cannot be checkpointed yet");
}

}  // namespace millstream
