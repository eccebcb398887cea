// Which files a checkpointed file source read, so that a restore refuses a file that changed
// since (its remaining byte ranges or row groups would point into other data): the path, the
// size the run read, and a fingerprint of the contents that is cheap to take (the first and
// last few KiB of a text file, the footer of a Parquet file). A modification time is not used:
// copying a directory of inputs or touching a file changes it without changing a row.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/position_bytes.h"

namespace millstream {

struct FileIdentity {
  std::string path;
  int64_t size_bytes = 0;
  uint64_t fingerprint = 0;
};

// A source's file identities, taken once when first asked (runs without checkpoints never read
// the bytes). Copies of a source (Source::WithColumns) share them: the files are the same.
class LazyFileIdentities {
 public:
  const std::vector<FileIdentity>& Get(const std::function<std::vector<FileIdentity>()>& take) const {
    std::call_once(taken_->once, [&] { taken_->identities = take(); });
    return taken_->identities;
  }

 private:
  struct Taken {
    std::once_flag once;
    std::vector<FileIdentity> identities;
  };
  std::shared_ptr<Taken> taken_ = std::make_shared<Taken>();
};

void PutFileIdentities(const std::vector<FileIdentity>& files, PositionWriter* writer);
// Reads the identities PutFileIdentities wrote and compares them with the files the source has
// now: throws UserError naming the first file that differs (missing, added, another size or
// contents) and what to do.
void CheckFileIdentities(const std::vector<FileIdentity>& current, const std::string& source_name,
                         PositionReader* reader);

}  // namespace millstream
