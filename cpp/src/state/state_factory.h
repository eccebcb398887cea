// Hands out the state backend of each keyed-operator subtask of a run.
//
// RocksDB backends of one run share one bounded block cache and one write-buffer budget
// (StateOptions::cache_bytes in all), so memory stays bounded however many operators and
// subtasks there are. Each subtask has its own DB at <directory>/<operator_id>/subtask-<n>;
// with no directory, a temp directory that is removed when the last backend of the run is gone.
//
// Example (one environment per run):
//   auto environment = StateEnvironment::Create(options);
//   context.state = environment->MakeBackend("op3", subtask);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "state/state_backend.h"

namespace millstream {

class RocksDbResources;

class StateEnvironment {
 public:
  // Throws UserError for an unknown kind or a cache too small to work with.
  static std::shared_ptr<StateEnvironment> Create(const StateOptions& options);
  ~StateEnvironment();

  std::unique_ptr<StateBackend> MakeBackend(const std::string& operator_id, int subtask);
  // A backend of a restored run holding the entries of key groups [first_key_group,
  // end_key_group) of the backends checkpointed into `checkpoints` (StateBackend::Checkpoint
  // directories; several when the run is rescaled). At the same key groups RocksDB reopens the
  // checkpoint (hard-linked into its working directory), so restoring does not replay the state.
  std::unique_ptr<StateBackend> RestoreBackend(const std::string& operator_id, int subtask,
                                               const std::vector<std::string>& checkpoints,
                                               int first_key_group, int end_key_group);
  const StateOptions& options() const { return options_; }
  // Where the RocksDB DBs live (the temp directory when options().directory is empty); empty
  // for the memory kind.
  std::string directory() const;

 private:
  StateEnvironment(StateOptions options, std::shared_ptr<RocksDbResources> rocksdb);
  StateOptions options_;
  std::shared_ptr<RocksDbResources> rocksdb_;
};

// MakeBackend of the environment shared by all live backends made with equal options in this
// process (the environment lives as long as one of its backends does): the backends of one run
// share their cache without passing an environment around.
std::unique_ptr<StateBackend> MakeStateBackend(const StateOptions& options,
                                               const std::string& operator_id, int subtask);

}  // namespace millstream
