// A file sink (file_sink.h) behind the Sink interface: rows go to the file as they arrive (in
// arrival order: a file sink does not reorder), which appears under its name at Finish().
#include "connectors/sink.h"

namespace millstream {

namespace {

class FileOutputSink final : public Sink {
 public:
  explicit FileOutputSink(std::unique_ptr<FileSink> file) : file_(std::move(file)) {}
  void Write(BatchPtr batch, uint64_t, uint64_t) override { file_->Write(batch); }
  void Finish() override { file_->Finish(); }
  void Abort() override { file_->Abort(); }
  void PrepareCheckpoint(const SnapshotTarget& target) override { file_->PrepareCheckpoint(target); }
  void CommitCheckpoint(int64_t checkpoint_id) override { file_->CommitCheckpoint(checkpoint_id); }
  void Restore(const std::string& directory) override { file_->Restore(directory); }

 private:
  std::unique_ptr<FileSink> file_;
};

}  // namespace

std::unique_ptr<Sink> MakeFileOutputSink(std::unique_ptr<FileSink> file) {
  return std::make_unique<FileOutputSink>(std::move(file));
}

}  // namespace millstream
