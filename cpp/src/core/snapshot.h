// What every layer shares for checkpoints (issue 17): where one actor writes its part of a
// checkpoint, and how a checkpoint's files are written so that a crash never leaves a file that
// looks whole but is not.
//
// Layout (runtime/ owns it): <checkpoint_dir>/chk-<id>/ holds one directory per actor part
// (a source's positions, a keyed subtask's state, a sink's pending output) and, written last, the
// MANIFEST that makes the checkpoint complete. Each checkpoint directory is self-contained:
// immutable files that an earlier checkpoint already holds (RocksDB's SST files, a sink's
// earlier segments) are hard-linked into it, never copied, so removing an old checkpoint is
// removing its directory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace millstream {

// Where one actor writes its part of checkpoint `checkpoint_id`.
struct SnapshotTarget {
  int64_t checkpoint_id = 0;
  // Created empty by the runtime and owned by the actor: everything the actor needs to be
  // restored goes in here (files, hard links, subdirectories).
  std::string directory;
  // The previous complete checkpoint's directory of the same actor, or empty: files there may
  // be hard-linked instead of written again (incremental checkpoints).
  std::string previous_directory;
};

// Writes `bytes` to `path` durably and atomically: a temporary file beside it, fsync, rename,
// fsync of the directory. A reader sees the old file, the new one, or none; never a torn one.
// Throws UserError naming the path when the file system refuses.
void WriteFileAtomically(const std::string& path, std::string_view bytes);
// The whole file; throws UserError naming the path when it cannot be read.
std::string ReadWholeFile(const std::string& path);
// fsync of a file or directory that was written by other means (RocksDB, a file sink).
void SyncPath(const std::string& path);
// Makes `to` a hard link to `from`, or copies it where the file system cannot link (another
// device). Throws UserError naming both paths on failure.
void LinkOrCopyFile(const std::string& from, const std::string& to);

}  // namespace millstream
