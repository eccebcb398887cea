#include "connectors/file_identity.h"

#include "core/error.h"

namespace millstream {

void PutFileIdentities(const std::vector<FileIdentity>& files, PositionWriter* writer) {
  writer->PutInt(static_cast<int64_t>(files.size()));
  for (const FileIdentity& file : files) {
    writer->PutString(file.path);
    writer->PutInt(file.size_bytes);
    writer->PutInt(static_cast<int64_t>(file.fingerprint));
  }
}

void CheckFileIdentities(const std::vector<FileIdentity>& current, const std::string& source_name,
                         PositionReader* reader) {
  const std::string advice =
      "; a checkpoint can only be restored over the input it was taken on (put the file back as "
      "it was, or start the job without the checkpoint)";
  const int64_t count = reader->GetInt();
  std::vector<FileIdentity> recorded;
  for (int64_t i = 0; i < count; ++i) {
    FileIdentity file;
    file.path = reader->GetString();
    file.size_bytes = reader->GetInt();
    file.fingerprint = static_cast<uint64_t>(reader->GetInt());
    recorded.push_back(std::move(file));
  }
  for (size_t i = 0; i < recorded.size() || i < current.size(); ++i) {
    if (i >= current.size()) {
      throw UserError(source_name + ": '" + recorded[i].path +
                      "' was read by the checkpointed run but is not among the files now" + advice);
    }
    if (i >= recorded.size() || current[i].path != recorded[i].path) {
      throw UserError(source_name + ": '" + current[i].path +
                      "' was not read by the checkpointed run (the files matched are not the "
                      "same)" + advice);
    }
    if (current[i].size_bytes != recorded[i].size_bytes) {
      throw UserError(source_name + ": '" + current[i].path + "' has " +
                      std::to_string(current[i].size_bytes) + " bytes, the checkpointed run read " +
                      std::to_string(recorded[i].size_bytes) + advice);
    }
    if (current[i].fingerprint != recorded[i].fingerprint) {
      throw UserError(source_name + ": '" + current[i].path +
                      "' changed since the checkpoint was taken (same size, other contents)" +
                      advice);
    }
  }
}

}  // namespace millstream
