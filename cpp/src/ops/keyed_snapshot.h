// A keyed operator subtask's part of a checkpoint (KeyedOperatorState::Snapshot) and its
// restore (CreateState from SubtaskContext::restore_from), the same for every keyed operator.
//
// A snapshot directory holds:
//   db/                      the state backend's checkpoint (StateBackend::Checkpoint): every
//                            entry, hot ones written out at the barrier (they stay hot)
//   <column family>.store    the keyed-state store's bookkeeping (KeyedStateStore::WriteBookkeeping)
//   operator                 the operator's own counters (an entry file: name -> i64)
// The runtime restores the backend from BackendCheckpointDirectory(dir) of each snapshot
// (StateEnvironment::RestoreBackend) into SubtaskContext::state before CreateState; the state
// then calls RestoreKeyedState. Timers and other in-memory structures are rebuilt from the
// store: they hold nothing that the entries do not.
//
// Example (in an operator state):
//   void Snapshot(const SnapshotTarget& target) override {
//     SnapshotKeyedState(target, context_, store_, step_, {{"next_seq", next_seq_}});
//   }
//   // in the constructor:
//   if (!context_.restore_from.empty()) next_seq_ = RestoreKeyedState(context_, store_).counters["next_seq"];
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "core/snapshot.h"
#include "ops/keyed_operator.h"

namespace millstream {

class KeyedStateStore;

// Where a keyed subtask's snapshot keeps its state backend's checkpoint.
std::string BackendCheckpointDirectory(const std::string& snapshot_directory);

// Counters an operator keeps beside its store (an arrival sequence number, a count of sessions).
// Restored from several snapshots (rescaled), each is the largest of theirs.
using OperatorCounters = std::map<std::string, int64_t>;

// Writes the subtask's state into target.directory (layout above). `step` is the operator's
// step now (KeyedStateStore::WriteHotForCheckpoint).
void SnapshotKeyedState(const SnapshotTarget& target, const SubtaskContext& context,
                        KeyedStateStore& store, uint32_t step, const OperatorCounters& counters);

struct RestoredKeyedState {
  OperatorCounters counters;  // a counter missing from every snapshot is 0
  bool scanned = false;       // the store read every entry (each was passed to `each`)
};

// Restores `store` (new, over the restored context.state) from context.restore_from:
// KeyedStateStore::Restored with the snapshots' bookkeeping, `each` and `scan_always`.
RestoredKeyedState RestoreKeyedState(
    const SubtaskContext& context, KeyedStateStore& store,
    const std::function<void(std::string_view, std::string_view)>& each = nullptr,
    bool scan_always = false);

}  // namespace millstream
