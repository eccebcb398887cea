// The MANIFEST of a checkpoint (core/snapshot.h has the layout): what each part of a run wrote,
// and what makes a checkpoint directory complete. It is written last, atomically; a checkpoint
// is complete when its MANIFEST parses (it ends with an "end" line) and every file it lists has
// the size and CRC-32 it lists. A crash while a checkpoint is written leaves a directory without
// a MANIFEST (or with files that do not match it): restore skips it, with the reason.
//
//   CheckpointManifest manifest = ReadManifest("ckpt/chk-7");       // throws UserError
//   std::string problem = VerifyCheckpoint("ckpt/chk-7", manifest); // "" when complete
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace millstream {

inline constexpr const char* kManifestName = "MANIFEST";

// One operator of the plan as the checkpoint saw it: its node in the plan format without
// handles (which index objects beside the plan), so a restore can refuse a plan that changed.
struct OperatorPrint {
  int node_id = 0;
  std::string op;
  std::string label;
  std::string node_json;
};

// A source split at the barrier: its SourceSplit::Position() and its chains' state
// (Chain::SaveState: the watermark assigners' maximum event time, watermark and idleness).
struct SourceSplitPart {
  int node_id = 0;
  int split = 0;
  std::string position;
  std::vector<int64_t> chain_state;
};

// A keyed subtask at the barrier: the directory its state wrote (relative to the checkpoint),
// its key groups, its watermark tracker's state (WatermarkTracker::SaveState) and the sequence
// of its next output batch. `ended`: every input had ended before the barrier and the
// operator had emitted its final output (a restored run must not emit it again).
struct KeyedSubtaskPart {
  int node_id = 0;
  int subtask = 0;
  int first_key_group = 0;
  int end_key_group = 0;
  bool ended = false;
  std::string directory;
  uint64_t next_sequence = 0;
  std::vector<int64_t> tracker_state;
};

struct SinkPart {
  int node_id = 0;
  bool ended = false;  // Finish() had run before the barrier
  std::string directory;
};

struct ManifestFile {
  std::string path;  // relative to the checkpoint directory
  int64_t size_bytes = 0;
  uint32_t crc32 = 0;
};

struct CheckpointManifest {
  int64_t checkpoint_id = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  std::vector<OperatorPrint> operators;
  std::vector<SourceSplitPart> sources;
  std::vector<KeyedSubtaskPart> keyed;
  std::vector<SinkPart> sinks;
  std::vector<ManifestFile> files;
  int64_t total_bytes() const;
};

std::string SerializeManifest(const CheckpointManifest& manifest);
// Throws UserError naming `where` when the text is not a whole manifest.
CheckpointManifest ParseManifest(const std::string& text, const std::string& where);
// The MANIFEST of checkpoint directory `directory`; throws UserError when absent or torn.
CheckpointManifest ReadManifest(const std::string& directory);
// "" when every listed file is there with its size and CRC; else what is wrong, naming the file.
std::string VerifyCheckpoint(const std::string& directory, const CheckpointManifest& manifest);

// The operators of `plan` as a checkpoint records them.
std::vector<OperatorPrint> PrintOperators(const Plan& plan);
// Throws UserError naming the operator (label, op) that differs between the checkpoint at
// `directory` and `plan`, or that one has and the other has not.
void CheckPlanMatches(const CheckpointManifest& manifest, const Plan& plan,
                      const std::string& directory);

// CRC-32 (IEEE) of a file's bytes, read in blocks.
uint32_t FileCrc32(const std::string& path);

// "chk-<id>" of a checkpoint directory name, or -1 when the name is not one.
int64_t CheckpointIdOfName(const std::string& name);
std::string CheckpointDirectoryName(int64_t checkpoint_id);

// Where a run restores from, when `path` is a checkpoint_dir (the latest complete checkpoint
// in it) or one checkpoint or savepoint (holds a MANIFEST). `skipped` gets, per checkpoint
// passed over, "<dir>: <why>" (a missing MANIFEST, a file that does not match). Empty when
// there is no complete checkpoint.
std::string FindLatestCheckpoint(const std::string& path, std::vector<std::string>* skipped);
// The largest checkpoint id of any chk-<id> directory in `checkpoint_dir` (complete or not), 0
// when none: a new run numbers its checkpoints after it, never over a partial one.
int64_t LargestCheckpointId(const std::string& checkpoint_dir);

}  // namespace millstream
