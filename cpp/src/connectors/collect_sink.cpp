// collect(): keeps the batches and hands them back in source order, whatever the parallelism.
// Checkpoints (issue 17): each checkpoint writes the batches that came since the previous one as
// one Arrow IPC stream segment; earlier segments are hard-linked, not written again. A restored
// run reloads every segment, so that its collect() returns every row of a clean run.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <arrow/io/file.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>

#include "connectors/sink.h"
#include "core/error.h"

namespace millstream {

namespace {

// The list of a checkpoint's batches, in the order they came: "<segment file> <origin>
// <sequence>" a line, the batches of a segment in its order.
constexpr const char* kIndexName = "segments";

class CollectSink final : public Sink {
 public:
  void Write(BatchPtr batch, uint64_t origin, uint64_t sequence) override {
    batches_.push_back({origin, sequence, std::move(batch), ""});
  }
  void Finish() override {}
  std::optional<std::vector<BatchPtr>> TakeRows() override {
    // Stable: batches of one position (a keyed operator's outputs) keep their arrival order.
    std::stable_sort(batches_.begin(), batches_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.origin, a.sequence) < std::tie(b.origin, b.sequence);
    });
    std::vector<BatchPtr> rows;
    rows.reserve(batches_.size());
    for (auto& entry : batches_) rows.push_back(std::move(entry.batch));
    batches_.clear();
    return rows;
  }

  void PrepareCheckpoint(const SnapshotTarget& target) override {
    namespace fs = std::filesystem;
    const std::string segment = "segment-" + std::to_string(target.checkpoint_id) + ".arrows";
    bool wrote = false;
    for (Positioned& entry : batches_) {
      if (!entry.segment.empty()) continue;
      if (!wrote) OpenSegment((fs::path(target.directory) / segment).string(), entry.batch->schema());
      CheckArrow(writer_->WriteRecordBatch(*entry.batch), "writing collected rows to a checkpoint");
      entry.segment = segment;
      wrote = true;
    }
    if (wrote) {
      CheckArrow(writer_->Close(), "writing collected rows to a checkpoint");
      CheckArrow(file_->Close(), "writing collected rows to a checkpoint");
      writer_.reset();
      file_.reset();
      SyncPath((fs::path(target.directory) / segment).string());
    }
    std::ostringstream index;
    for (const Positioned& entry : batches_) {
      if (entry.segment != segment && !fs::exists(fs::path(target.directory) / entry.segment)) {
        LinkOrCopyFile((fs::path(segments_directory_) / entry.segment).string(),
                       (fs::path(target.directory) / entry.segment).string());
      }
      index << entry.segment << " " << entry.origin << " " << entry.sequence << "\n";
    }
    WriteFileAtomically((fs::path(target.directory) / kIndexName).string(), index.str());
    segments_directory_ = target.directory;
  }

  void Restore(const std::string& directory) override {
    namespace fs = std::filesystem;
    std::istringstream index(ReadWholeFile((fs::path(directory) / kIndexName).string()));
    std::map<std::string, std::vector<BatchPtr>> segments;
    std::map<std::string, size_t> used;
    std::string segment;
    uint64_t origin = 0, sequence = 0;
    while (index >> segment >> origin >> sequence) {
      auto it = segments.find(segment);
      if (it == segments.end()) {
        it = segments.emplace(segment, ReadSegment((fs::path(directory) / segment).string())).first;
      }
      size_t& next = used[segment];
      if (next >= it->second.size()) {
        throw UserError(directory + "/" + kIndexName + " lists more batches of " + segment +
                        " than it holds: the checkpoint is damaged; restore from an earlier one");
      }
      batches_.push_back({origin, sequence, it->second[next++], segment});
    }
    segments_directory_ = directory;
  }

 private:
  struct Positioned {
    uint64_t origin, sequence;
    BatchPtr batch;
    std::string segment;  // the checkpoint segment that holds it; empty: none yet
  };

  void OpenSegment(const std::string& path, const SchemaPtr& schema) {
    file_ = CheckArrow(arrow::io::FileOutputStream::Open(path), ("creating " + path).c_str());
    writer_ = CheckArrow(arrow::ipc::MakeStreamWriter(file_, schema), ("creating " + path).c_str());
  }

  static std::vector<BatchPtr> ReadSegment(const std::string& path) {
    auto file = CheckArrow(arrow::io::ReadableFile::Open(path), ("opening " + path).c_str());
    auto reader = CheckArrow(arrow::ipc::RecordBatchStreamReader::Open(file), ("reading " + path).c_str());
    std::vector<BatchPtr> batches;
    for (;;) {
      BatchPtr batch = CheckArrow(reader->Next(), ("reading " + path).c_str());
      if (!batch) break;
      batches.push_back(std::move(batch));
    }
    return batches;
  }

  std::vector<Positioned> batches_;
  std::string segments_directory_;  // where the segments of the last checkpoint (or restore) are
  std::shared_ptr<arrow::io::FileOutputStream> file_;
  std::shared_ptr<arrow::ipc::RecordBatchWriter> writer_;
};

}  // namespace

std::unique_ptr<Sink> MakeCollectSink() { return std::make_unique<CollectSink>(); }

}  // namespace millstream
