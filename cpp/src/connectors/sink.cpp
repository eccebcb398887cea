#include "connectors/sink.h"

#include "core/error.h"

namespace millstream {

void Sink::PrepareCheckpoint(const SnapshotTarget& target) {
  (void)target;
  throw UserError("this sink cannot take part in checkpoints yet");
}

void Sink::CommitCheckpoint(int64_t checkpoint_id) { (void)checkpoint_id; }

void Sink::Restore(const std::string& directory) {
  (void)directory;
  throw UserError("this sink cannot be restored from a checkpoint yet");
}

}  // namespace millstream
