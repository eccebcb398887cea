#include "connectors/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <filesystem>
#include <random>

#include <arrow/io/file.h>
#include <arrow/util/compression.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/exception.h>

#include "connectors/position_bytes.h"
#include "core/error.h"
#include "formats/text_encoder.h"

namespace millstream {

namespace {

constexpr size_t kFlushBytes = size_t{1} << 20;

// What a file sink writes into its part of a checkpoint (file_sink.h), in one file.
constexpr std::string_view kPendingFileName = "pending-file";
constexpr std::string_view kTextPendingTag = "millstream-text-file-sink-v2";
constexpr std::string_view kParquetPendingTag = "millstream-parquet-file-sink-v2";
// What the record describes: output still pending, or output already final (the sink finished
// before the barrier: every input ended; a checkpoint of a run whose other sinks still write).
constexpr int64_t kPendingOutput = 0;
constexpr int64_t kFinalOutput = 1;

std::string PathIn(const std::string& directory, std::string_view name) {
  return (std::filesystem::path(directory) / name).string();
}

std::string TempPathFor(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid());
}

// "<path>.pending-<pid>-<random>": the in-progress file of a run that took a checkpoint.
std::string UniquePendingPath(const std::string& path) {
  std::random_device random;
  const uint64_t tag = (static_cast<uint64_t>(random()) << 32) ^ random();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(tag));
  return path + ".pending-" + std::to_string(::getpid()) + "-" + hex;
}

[[noreturn]] void ThrowSystem(const std::string& what, const std::string& path) {
  throw UserError("cannot " + what + " '" + path + "': " + std::strerror(errno));
}

// Which file a name is (device and inode): a rename keeps it, so the final output can be told
// from another file of the same name.
struct FileId {
  int64_t device = -1;
  int64_t inode = -1;
  bool operator==(const FileId&) const = default;
};

FileId IdOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return {static_cast<int64_t>(info.st_dev), static_cast<int64_t>(info.st_ino)};
}

void PutFileId(const FileId& id, PositionWriter* record) {
  record->PutInt(id.device);
  record->PutInt(id.inode);
}

FileId GetFileId(PositionReader* record) {
  FileId id;
  id.device = record->GetInt();
  id.inode = record->GetInt();
  return id;
}

// Renames the finished temp file over `path`.
void MoveIntoPlace(const std::string& temp_path, const std::string& path) {
  if (std::rename(temp_path.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(temp_path.c_str());
    errno = rename_errno;
    ThrowSystem("move the finished file into place at", path);
  }
}

class TextFileSink final : public FileSink {
 public:
  TextFileSink(std::string path, std::unique_ptr<TextEncoder> encoder)
      : path_(std::move(path)), temp_path_(TempPathFor(path_)), encoder_(std::move(encoder)) {
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) ThrowSystem("create", temp_path_);
    encoder_->AppendPrologue(&buffer_);
  }
  ~TextFileSink() override {
    if (fd_ >= 0) Abort();
  }

  void Write(const BatchPtr& batch) override {
    if (already_final_) return;  // rows the killed run wrote to its final file already
    MS_CHECK(fd_ >= 0, "Write() after Finish() or Abort()");
    if (!batch) return;
    encoder_->AppendBatch(*batch, &buffer_);
    if (buffer_.size() >= kFlushBytes) Flush();
  }

  void Finish() override {
    if (already_final_) {
      finished_ = true;
      return;
    }
    MS_CHECK(fd_ >= 0, "Finish() after Finish() or Abort()");
    try {
      Flush();
      // The rename publishes the file: its bytes must be on disk before its name is.
      if (::fdatasync(fd_) != 0) ThrowSystem("write", temp_path_);
    } catch (...) {
      Abort();
      throw;
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      ::unlink(temp_path_.c_str());
      ThrowSystem("write", temp_path_);
    }
    MoveIntoPlace(temp_path_, path_);
    finished_ = true;
  }

  // After a checkpoint the file is the checkpoint's pending output, which a restore adopts: a
  // failed run keeps it (a kill would have too).
  void Abort() override {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    if (!checkpointed_) ::unlink(temp_path_.c_str());
    buffer_.clear();
  }

  void PrepareCheckpoint(const SnapshotTarget& target) override {
    if (finished_) {  // the output is in place: a restore leaves it there
      WriteRecord(target, kFinalOutput, path_);
      return;
    }
    MS_CHECK(fd_ >= 0, "PrepareCheckpoint() after Abort()");
    if (!checkpointed_) {
      // A name no later sink opens (the temporary name is per process, and a run restored in
      // the same process would truncate it when its sink is made).
      const std::string pending_path = UniquePendingPath(path_);
      if (std::rename(temp_path_.c_str(), pending_path.c_str()) != 0) {
        ThrowSystem("rename the pending output to", pending_path);
      }
      temp_path_ = pending_path;
      checkpointed_ = true;
      SyncPath(std::filesystem::path(temp_path_).parent_path().string());
    }
    Flush();
    if (::fdatasync(fd_) != 0) ThrowSystem("write", temp_path_);
    WriteRecord(target, kPendingOutput, temp_path_);
  }

  // The crashed run's temporary file becomes this run's, cut back to the checkpoint's length:
  // later checkpoints name the same file, so a run restored twice from one checkpoint finds it.
  void Restore(const std::string& directory) override {
    MS_CHECK(fd_ >= 0 && written_bytes_ == 0, "Restore() after Write(), Finish() or Abort()");
    const std::string record_path = PathIn(directory, kPendingFileName);
    PositionReader record(ReadWholeFile(record_path), kTextPendingTag, record_path);
    const int64_t kind = record.GetInt();
    const std::string pending_path = record.GetString();
    const int64_t length = record.GetInt();
    const FileId id = GetFileId(&record);
    record.ExpectEnd();
    // The output was final at the checkpoint, or the killed run finished it after the checkpoint
    // (its pending file renamed into place: the same file under the final name). Either way it
    // holds every row: this run leaves it as it is, and the rows the restored run gives the sink
    // again (the same rows, from the checkpoint on) are not written twice.
    if (kind == kFinalOutput ||
        (IdOf(pending_path) == FileId{} && id != FileId{} && IdOf(path_) == id)) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(temp_path_.c_str());
      written_bytes_ = length;
      already_final_ = true;
      return;
    }
    struct stat info {};
    if (::stat(pending_path.c_str(), &info) != 0 || info.st_size < length) {
      throw UserError("cannot restore the output '" + path_ + "': its pending file '" +
                      pending_path + "' holds fewer than the " + std::to_string(length) +
                      " bytes the checkpoint recorded (removed or cut since); start the job "
                      "without the checkpoint, or put the file back");
    }
    if (pending_path != temp_path_) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(temp_path_.c_str());
      temp_path_ = pending_path;
      fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd_ < 0) ThrowSystem("open", temp_path_);
    }
    if (::ftruncate(fd_, length) != 0 || ::lseek(fd_, length, SEEK_SET) != length) {
      ThrowSystem("cut back to its checkpointed length", temp_path_);
    }
    written_bytes_ = length;
    checkpointed_ = true;
    buffer_.clear();  // the header is in the file already
  }

 private:
  // The checkpoint's record of the output: which file holds it (`file_path`, pending or final),
  // its length and its identity (device, inode).
  void WriteRecord(const SnapshotTarget& target, int64_t kind, const std::string& file_path) const {
    PositionWriter record(kTextPendingTag);
    record.PutInt(kind);
    record.PutString(file_path);
    record.PutInt(written_bytes_);
    PutFileId(IdOf(file_path), &record);
    WriteFileAtomically(PathIn(target.directory, kPendingFileName), record.Take());
  }

  void Flush() {
    const char* data = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0) {
      const ssize_t written = ::write(fd_, data, left);
      if (written < 0) {
        if (errno == EINTR) continue;
        ThrowSystem("write", temp_path_);  // e.g. a full disk
      }
      data += written;
      left -= static_cast<size_t>(written);
      written_bytes_ += written;
    }
    buffer_.clear();
  }

  std::string path_;
  std::string temp_path_;
  std::unique_ptr<TextEncoder> encoder_;
  int fd_ = -1;
  std::string buffer_;
  int64_t written_bytes_ = 0;  // to the file: its length
  bool checkpointed_ = false;  // temp_path_ is a checkpoint's pending output
  bool finished_ = false;      // the output is in place under its name
  bool already_final_ = false; // restored from a checkpoint whose output was final already
};

// Arrow's message with its detail: for a failed write, the errno ("[errno 28] No space left on
// device"), which message() alone leaves out.
std::string MessageWithDetail(const arrow::Status& status) {
  if (status.detail() == nullptr) return status.message();
  return status.message() + " (" + status.detail()->ToString() + ")";
}

class ParquetFileSink final : public FileSink {
 public:
  ParquetFileSink(std::string path, SchemaPtr schema)
      : path_(std::move(path)), temp_path_(TempPathFor(path_)), schema_(std::move(schema)) {
    OpenWriter(temp_path_);  // at once: a bad directory or column type fails before the run
  }
  ~ParquetFileSink() override { Abort(); }

  void Write(const BatchPtr& batch) override {
    if (already_final_) return;  // rows the killed run wrote to its final file already
    MS_CHECK(!finished_, "Write() after Finish() or Abort()");
    if (!batch || batch->num_rows() == 0) return;
    if (!writer_) OpenWriter(temp_path_);
    Check(writer_->WriteRecordBatch(*batch));
    rows_in_writer_ += batch->num_rows();
  }

  void Finish() override {
    if (already_final_) return;
    MS_CHECK(!finished_, "Finish() after Finish() or Abort()");
    if (parts_.empty()) {
      if (!writer_) OpenWriter(temp_path_);  // no rows: still a file with the schema
      CloseWriter();
    } else {
      CloseRowsAsPart();
      MergeParts();
    }
    finished_ = true;
    MoveIntoPlace(temp_path_, path_);
    in_place_ = true;
    RemoveParts();
  }

  void Abort() override {
    finished_ = true;
    writer_.reset();  // without Close(): no footer is written
    if (stream_) {
      (void)stream_->Close();
      stream_.reset();
      ::unlink(temp_path_.c_str());
    }
    RemoveParts();
  }

  // The rows since the last checkpoint become a closed part file; the checkpoint links every
  // part, so that it holds all rows written so far whatever happens to this run's files.
  void PrepareCheckpoint(const SnapshotTarget& target) override {
    if (in_place_ || already_final_) {  // the output is in place: a restore leaves it there
      PositionWriter record(kParquetPendingTag);
      record.PutInt(kFinalOutput);
      record.PutString(path_);
      record.PutInt(0);
      WriteFileAtomically(PathIn(target.directory, kPendingFileName), record.Take());
      return;
    }
    MS_CHECK(!finished_, "PrepareCheckpoint() after Abort()");
    CloseRowsAsPart();
    for (size_t i = 0; i < parts_.size(); ++i) {
      LinkOrCopyFile(parts_[i], PathIn(target.directory, PartName(i)));
    }
    PositionWriter record(kParquetPendingTag);
    record.PutInt(kPendingOutput);
    record.PutString(temp_path_);
    record.PutInt(static_cast<int64_t>(parts_.size()));
    WriteFileAtomically(PathIn(target.directory, kPendingFileName), record.Take());
  }

  // Takes over the checkpointed run's temporary name (as the text sink does), so that what the
  // killed run left there (its rows after the checkpoint, parts of later checkpoints that never
  // completed) is replaced or removed, and a second restore finds the same names.
  void Restore(const std::string& directory) override {
    MS_CHECK(!finished_ && parts_.empty() && rows_in_writer_ == 0, "Restore() after Write()");
    const std::string record_path = PathIn(directory, kPendingFileName);
    PositionReader record(ReadWholeFile(record_path), kParquetPendingTag, record_path);
    const int64_t kind = record.GetInt();
    const std::string pending_path = record.GetString();
    const int64_t part_count = record.GetInt();
    record.ExpectEnd();
    writer_.reset();  // this run's empty file, opened at construction
    if (stream_) {
      (void)stream_->Close();
      stream_.reset();
    }
    ::unlink(temp_path_.c_str());
    // The output was final at the checkpoint: this run leaves it as it is. (A run killed after
    // it finished the file but before a checkpoint said so restores the pending parts, which the
    // checkpoint holds, and writes the same file again.)
    if (kind == kFinalOutput) {
      already_final_ = true;
      return;
    }
    temp_path_ = pending_path;
    ::unlink(temp_path_.c_str());
    for (int64_t i = 0; i < part_count; ++i) {
      const std::string part = StagedPartPath(static_cast<size_t>(i));
      ::unlink(part.c_str());
      LinkOrCopyFile(PathIn(directory, PartName(static_cast<size_t>(i))), part);
      parts_.push_back(part);
    }
    // Parts of checkpoints after this one, which never completed.
    std::error_code ignored;
    size_t stale = parts_.size();
    while (std::filesystem::remove(StagedPartPath(stale), ignored)) ++stale;
  }

 private:
  static std::string PartName(size_t index) { return "part-" + std::to_string(index) + ".parquet"; }
  std::string StagedPartPath(size_t index) const {
    return temp_path_ + "." + PartName(index);
  }

  void OpenWriter(const std::string& file_path) {
    auto stream = arrow::io::FileOutputStream::Open(file_path);
    if (!stream.ok()) {
      throw UserError("cannot create '" + file_path + "': " + MessageWithDetail(stream.status()));
    }
    stream_ = *stream;
    auto compression = arrow::util::Codec::IsAvailable(arrow::Compression::SNAPPY)
                           ? arrow::Compression::SNAPPY
                           : arrow::Compression::UNCOMPRESSED;
    auto properties = parquet::WriterProperties::Builder().compression(compression)->build();
    auto arrow_properties = parquet::ArrowWriterProperties::Builder().store_schema()->build();
    try {
      auto writer = parquet::arrow::FileWriter::Open(*schema_, arrow::default_memory_pool(),
                                                     stream_, properties, arrow_properties);
      if (!writer.ok()) {
        Abort();
        throw UserError("write_parquet(" + path_ + "): " + MessageWithDetail(writer.status()));
      }
      writer_ = std::move(writer).ValueUnsafe();
    } catch (const parquet::ParquetException& error) {
      Abort();
      throw UserError("write_parquet(" + path_ + "): " + error.what());
    }
    rows_in_writer_ = 0;
  }

  void CloseWriter() {
    Check(writer_->Close());
    writer_.reset();
    Check(stream_->Close());
    stream_.reset();
  }

  // The writer's rows, if any, as the next part file, synced (its name too).
  void CloseRowsAsPart() {
    if (!writer_ || rows_in_writer_ == 0) return;
    CloseWriter();
    const std::string part = StagedPartPath(parts_.size());
    if (std::rename(temp_path_.c_str(), part.c_str()) != 0) ThrowSystem("stage", part);
    parts_.push_back(part);
    SyncPath(part);
    SyncPath(std::filesystem::path(part).parent_path().string());
  }

  // The final file: every part's rows in order (its row groups follow the parts' batches).
  void MergeParts() {
    if (writer_) {  // opened before a Restore, and no row since
      writer_.reset();
      (void)stream_->Close();
      stream_.reset();
    }
    OpenWriter(temp_path_);
    for (const std::string& part : parts_) {
      auto input = arrow::io::ReadableFile::Open(part);
      if (!input.ok()) Check(input.status());
      auto reader = parquet::arrow::OpenFile(*input, arrow::default_memory_pool());
      if (!reader.ok()) Check(reader.status());
      auto batches_or = (*reader)->GetRecordBatchReader();
      if (!batches_or.ok()) Check(batches_or.status());
      std::unique_ptr<arrow::RecordBatchReader> batches = std::move(batches_or).ValueUnsafe();
      while (true) {
        std::shared_ptr<arrow::RecordBatch> batch;
        Check(batches->ReadNext(&batch));
        if (!batch) break;
        Check(writer_->WriteRecordBatch(*batch));
      }
    }
    CloseWriter();
  }

  void RemoveParts() {
    for (const std::string& part : parts_) ::unlink(part.c_str());
    parts_.clear();
  }

  void Check(const arrow::Status& status) {
    if (status.ok()) return;
    Abort();
    // Writing fails through the disk (full, removed) or through a batch of the wrong schema.
    throw UserError("write_parquet(" + path_ + "): " + MessageWithDetail(status));
  }

  std::string path_;
  std::string temp_path_;  // the rows since the last checkpoint, then the final file
  SchemaPtr schema_;
  std::shared_ptr<arrow::io::FileOutputStream> stream_;
  std::unique_ptr<parquet::arrow::FileWriter> writer_;  // null between a part and the next row
  int64_t rows_in_writer_ = 0;
  std::vector<std::string> parts_;  // staged at checkpoints, in row order
  bool finished_ = false;       // finished or aborted
  bool in_place_ = false;       // finished: the output is in place under its name
  bool already_final_ = false;  // restored from a checkpoint whose output was final already
};

}  // namespace

void FileSink::PrepareCheckpoint(const SnapshotTarget& target) {
  (void)target;
  throw UserError("this sink cannot take part in checkpoints yet");
}

void FileSink::Restore(const std::string& directory) {
  (void)directory;
  throw UserError("this sink cannot be restored from a checkpoint yet");
}

std::unique_ptr<FileSink> MakeCsvSink(const std::string& path, SchemaPtr schema) {
  return std::make_unique<TextFileSink>(path, MakeCsvEncoder(std::move(schema), "write_csv(" + path + ")"));
}

std::unique_ptr<FileSink> MakeJsonlSink(const std::string& path, SchemaPtr schema) {
  return std::make_unique<TextFileSink>(path,
                                        MakeJsonlEncoder(std::move(schema), "write_jsonl(" + path + ")"));
}

std::unique_ptr<FileSink> MakeParquetSink(const std::string& path, SchemaPtr schema) {
  return std::make_unique<ParquetFileSink>(path, std::move(schema));
}

}  // namespace millstream
