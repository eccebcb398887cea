// A file sink under an unbounded run with checkpoints (issue 17): the output path is a
// directory of part files, one per checkpoint, each visible only once its checkpoint completed.
//
//   out/part-1-0.parquet      rows up to checkpoint 1, renamed into place when it completed
//   out/.part-2-0.parquet.pending   rows up to checkpoint 2, prepared, not complete yet
//
// The rows between checkpoints N-1 and N go to a FileSink (its own temporary file, synced and
// renamed at its Finish) closed at barrier N as `.part-N-0.<ext>.pending`, and renamed to
// `part-N-0.<ext>` by CommitCheckpoint(N). A restore renames what the restored checkpoint
// prepared (it completed, so its parts are output) and removes pending parts of later
// checkpoints, which never completed, and the killed run's part in progress. Naming a part after the checkpoint that publishes it makes
// a restore idempotent: the rows after the restored checkpoint are written again under the same
// names (checkpoint ids go on from the restored one). The "-0" leaves room for several writers
// of one directory. A stopped run's Finish publishes the rows since its last checkpoint as the
// next checkpoint's part.
#include <filesystem>
#include <map>

#include "connectors/position_bytes.h"
#include "connectors/sink.h"
#include "core/error.h"

namespace millstream {

namespace {

constexpr std::string_view kRollingTag = "millstream-rolling-file-sink-v1";
constexpr std::string_view kRollingRecordName = "pending-parts";

class RollingFileSink final : public Sink {
 public:
  RollingFileSink(std::string directory, std::string extension, FileSinkFactory make_file,
                  SchemaPtr schema)
      : directory_(std::move(directory)),
        extension_(std::move(extension)),
        make_file_(make_file),
        schema_(std::move(schema)) {
    std::error_code error;
    std::filesystem::create_directory(directory_, error);
    if (!std::filesystem::is_directory(directory_)) {
      throw UserError("cannot write part files into '" + directory_ +
                      "': an unbounded run with checkpoints writes a directory of parts there, "
                      "and it is not a directory that can be made (" + error.message() + ")");
    }
  }

  void Write(BatchPtr batch, uint64_t, uint64_t) override {
    if (!current_) current_ = make_file_(InDirectory(".part-in-progress." + extension_), schema_);
    current_->Write(batch);
  }

  void PrepareCheckpoint(const SnapshotTarget& target) override {
    CloseCurrentAs(target.checkpoint_id);
    last_checkpoint_id_ = target.checkpoint_id;
    PositionWriter record(kRollingTag);
    record.PutInt(target.checkpoint_id);
    record.PutInt(static_cast<int64_t>(pending_.size()));
    for (const auto& [checkpoint_id, path] : pending_) record.PutInt(checkpoint_id);
    WriteFileAtomically((std::filesystem::path(target.directory) / kRollingRecordName).string(),
                        record.Take());
  }

  void CommitCheckpoint(int64_t checkpoint_id) override {
    while (!pending_.empty() && pending_.begin()->first <= checkpoint_id) {
      Publish(pending_.begin()->first);
      pending_.erase(pending_.begin());
    }
    SyncPath(directory_);
  }

  void Finish() override {
    CloseCurrentAs(last_checkpoint_id_ + 1);
    CommitCheckpoint(last_checkpoint_id_ + 1);
  }

  void Abort() override {
    if (current_) current_->Abort();
    current_.reset();
  }

  void Restore(const std::string& directory) override {
    const std::string record_path = (std::filesystem::path(directory) / kRollingRecordName).string();
    PositionReader record(ReadWholeFile(record_path), kRollingTag, record_path);
    last_checkpoint_id_ = record.GetInt();
    const int64_t count = record.GetInt();
    for (int64_t i = 0; i < count; ++i) {
      const int64_t checkpoint_id = record.GetInt();
      // Renamed already when the killed run committed it; else its checkpoint completed now.
      if (std::filesystem::exists(PendingPath(checkpoint_id))) Publish(checkpoint_id);
    }
    record.ExpectEnd();
    for (const auto& entry : std::filesystem::directory_iterator(directory_)) {
      const std::string name = entry.path().filename().string();
      int64_t checkpoint_id = 0;
      const bool never_completed =
          ParsePendingName(name, &checkpoint_id) && checkpoint_id > last_checkpoint_id_;
      // The killed run's rows after its last barrier (under its FileSink's temporary name).
      const bool cut_short = name.starts_with(".part-in-progress." + extension_);
      if (never_completed || cut_short) std::filesystem::remove(entry.path());
    }
    SyncPath(directory_);
  }

 private:
  std::string InDirectory(const std::string& name) const {
    return (std::filesystem::path(directory_) / name).string();
  }
  std::string PartName(int64_t checkpoint_id) const {
    return "part-" + std::to_string(checkpoint_id) + "-0." + extension_;
  }
  std::string PendingPath(int64_t checkpoint_id) const {
    std::string name = ".";
    name += PartName(checkpoint_id);
    name += ".pending";
    return InDirectory(name);
  }
  bool ParsePendingName(const std::string& name, int64_t* checkpoint_id) const {
    const std::string suffix = "-0." + extension_ + ".pending";
    if (!name.starts_with(".part-") || !name.ends_with(suffix)) return false;
    const std::string digits = name.substr(6, name.size() - 6 - suffix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
    *checkpoint_id = std::stoll(digits);
    return true;
  }

  // The rows since the last checkpoint, if any, become checkpoint `checkpoint_id`'s pending part.
  void CloseCurrentAs(int64_t checkpoint_id) {
    if (!current_) return;
    current_->Finish();  // synced, renamed to the in-progress name
    current_.reset();
    const std::string pending = PendingPath(checkpoint_id);
    std::filesystem::rename(InDirectory(".part-in-progress." + extension_), pending);
    SyncPath(directory_);
    pending_[checkpoint_id] = pending;
  }

  void Publish(int64_t checkpoint_id) {
    std::filesystem::rename(PendingPath(checkpoint_id), InDirectory(PartName(checkpoint_id)));
  }

  std::string directory_;
  std::string extension_;
  FileSinkFactory make_file_;
  SchemaPtr schema_;
  std::unique_ptr<FileSink> current_;  // rows since the last checkpoint
  std::map<int64_t, std::string> pending_;  // by checkpoint id: prepared, not committed
  int64_t last_checkpoint_id_ = 0;
};

}  // namespace

std::unique_ptr<Sink> MakeRollingFileSink(const std::string& directory, const std::string& extension,
                                          FileSinkFactory make_file, SchemaPtr schema) {
  return std::make_unique<RollingFileSink>(directory, extension, make_file, std::move(schema));
}

}  // namespace millstream
