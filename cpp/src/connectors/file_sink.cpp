#include "connectors/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <arrow/io/file.h>
#include <arrow/util/compression.h>
#include <parquet/arrow/writer.h>
#include <parquet/exception.h>

#include "core/error.h"
#include "formats/text_encoder.h"

namespace millstream {

namespace {

constexpr size_t kFlushBytes = size_t{1} << 20;

std::string TempPathFor(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid());
}

[[noreturn]] void ThrowSystem(const std::string& what, const std::string& path) {
  throw UserError("cannot " + what + " '" + path + "': " + std::strerror(errno));
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
    MS_CHECK(fd_ >= 0, "Write() after Finish() or Abort()");
    if (!batch) return;
    encoder_->AppendBatch(*batch, &buffer_);
    if (buffer_.size() >= kFlushBytes) Flush();
  }

  void Finish() override {
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
  }

  void Abort() override {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_path_.c_str());
    buffer_.clear();
  }

 private:
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
    }
    buffer_.clear();
  }

  std::string path_;
  std::string temp_path_;
  std::unique_ptr<TextEncoder> encoder_;
  int fd_ = -1;
  std::string buffer_;
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
      : path_(std::move(path)), temp_path_(TempPathFor(path_)) {
    auto stream = arrow::io::FileOutputStream::Open(temp_path_);
    if (!stream.ok()) {
      throw UserError("cannot create '" + temp_path_ + "': " + MessageWithDetail(stream.status()));
    }
    stream_ = *stream;
    auto compression = arrow::util::Codec::IsAvailable(arrow::Compression::SNAPPY)
                           ? arrow::Compression::SNAPPY
                           : arrow::Compression::UNCOMPRESSED;
    auto properties = parquet::WriterProperties::Builder().compression(compression)->build();
    auto arrow_properties = parquet::ArrowWriterProperties::Builder().store_schema()->build();
    try {
      auto writer = parquet::arrow::FileWriter::Open(*schema, arrow::default_memory_pool(), stream_,
                                                     properties, arrow_properties);
      if (!writer.ok()) {
        Abort();
        throw UserError("write_parquet(" + path_ + "): " + MessageWithDetail(writer.status()));
      }
      writer_ = std::move(writer).ValueUnsafe();
    } catch (const parquet::ParquetException& error) {
      Abort();
      throw UserError("write_parquet(" + path_ + "): " + error.what());
    }
  }
  ~ParquetFileSink() override {
    if (stream_) Abort();
  }

  void Write(const BatchPtr& batch) override {
    MS_CHECK(writer_ != nullptr, "Write() after Finish() or Abort()");
    if (!batch || batch->num_rows() == 0) return;
    Check(writer_->WriteRecordBatch(*batch));
  }

  void Finish() override {
    MS_CHECK(writer_ != nullptr, "Finish() after Finish() or Abort()");
    Check(writer_->Close());
    writer_.reset();
    Check(stream_->Close());
    stream_.reset();
    MoveIntoPlace(temp_path_, path_);
  }

  void Abort() override {
    writer_.reset();  // without Close(): no footer is written
    if (stream_) {
      (void)stream_->Close();
      stream_.reset();
      ::unlink(temp_path_.c_str());
    }
  }

 private:
  void Check(const arrow::Status& status) {
    if (status.ok()) return;
    Abort();
    // Writing fails through the disk (full, removed) or through a batch of the wrong schema.
    throw UserError("write_parquet(" + path_ + "): " + MessageWithDetail(status));
  }

  std::string path_;
  std::string temp_path_;
  std::shared_ptr<arrow::io::FileOutputStream> stream_;
  std::unique_ptr<parquet::arrow::FileWriter> writer_;
};

}  // namespace

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
