// MakeParquetSource (declared in connectors/file_source.h). Parquet is typed and checksummed
// by its own format: there are no bad rows to skip, and a file that cannot be decoded raises a
// UserError naming it whatever on_error says.
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include "connectors/file_identity.h"
#include "connectors/file_paths.h"
#include "connectors/file_source.h"
#include "connectors/position_bytes.h"
#include "core/error.h"
#include "core/hash.h"

namespace millstream {

namespace {

struct ParquetFile {
  std::string path;
  std::shared_ptr<parquet::FileMetaData> metadata;  // read once, at construction
  int64_t size_bytes = 0;
};

// One row group of one file; its block is its place among all files' row groups.
struct RowGroupRef {
  size_t file_index;
  int row_group;
  int64_t block;
  // A restored split resumes a row group part-way (Source::CreateSplitsAfter): the rows of it
  // already returned before the checkpoint, and the place among the group's chunks of the next.
  int64_t rows_done = 0;
  uint64_t first_part = 0;
};

// Split positions (SourceSplit::Position): the files' identities (size and a hash of the
// footer, which holds every row group's offsets, sizes and statistics), then the remaining row
// groups (file, row group, block, rows_done, first_part).
constexpr std::string_view kParquetPositionTag = "millstream-parquet-split-v1";

[[noreturn]] void ThrowUnreadable(const std::string& path, const std::string& detail) {
  throw UserError("cannot read '" + path + "' as Parquet: " + detail);
}

std::unique_ptr<parquet::arrow::FileReader> OpenReader(const ParquetFile& file,
                                                       int64_t batch_size) {
  try {
    parquet::ArrowReaderProperties properties;
    properties.set_batch_size(batch_size);
    properties.set_use_threads(false);  // parallelism comes from the splits
    // Pre-buffering would load every row group of the split at once (it is meant for object
    // stores); reading one row group at a time keeps memory at one row group per split.
    properties.set_pre_buffer(false);
    parquet::arrow::FileReaderBuilder builder;
    auto status = builder.OpenFile(file.path, /*memory_map=*/false,
                                   parquet::default_reader_properties(), file.metadata);
    if (!status.ok()) ThrowUnreadable(file.path, status.ToString());
    auto reader = builder.properties(properties)->Build();
    if (!reader.ok()) ThrowUnreadable(file.path, reader.status().ToString());
    return std::move(reader).ValueUnsafe();
  } catch (const parquet::ParquetException& error) {
    ThrowUnreadable(file.path, error.what());
  }
}

class ParquetSource;

class ParquetSplit final : public SourceSplit {
 public:
  ParquetSplit(std::shared_ptr<const ParquetSource> source, std::vector<RowGroupRef> groups,
               OperatorMetrics* metrics)
      : source_(std::move(source)), groups_(std::move(groups)), metrics_(metrics) {}
  SplitOutput Next() override;
  std::string Position() const override;

 private:
  std::shared_ptr<const ParquetSource> source_;
  std::vector<RowGroupRef> groups_;  // read one after the other, each with its own reader
  OperatorMetrics* metrics_;
  size_t group_index_ = 0;
  uint64_t part_ = 0;  // the next batch's place in its row group
  int64_t rows_returned_ = 0;  // of groups_[group_index_], counting its rows_done
  int64_t rows_to_skip_ = 0;   // of groups_[group_index_]: its rows_done not read again yet
  size_t open_file_ = 0;  // the file file_reader_ reads (kept while the next group is there too)
  std::unique_ptr<parquet::arrow::FileReader> file_reader_;  // outlives batch_reader_
  std::unique_ptr<arrow::RecordBatchReader> batch_reader_;
};

class ParquetSource final : public Source, public std::enable_shared_from_this<ParquetSource> {
 public:
  ParquetSource(std::string name, std::vector<ParquetFile> files, SchemaPtr schema,
                SourceOptions options)
      : name_(std::move(name)), files_(std::move(files)), schema_(std::move(schema)),
        options_(options) {}

  SchemaPtr schema() const override { return schema_; }
  std::string name() const override { return name_; }
  const std::vector<ParquetFile>& files() const { return files_; }
  int64_t batch_size() const { return options_.batch_size; }

  const std::vector<FileIdentity>& Identities() const {
    std::call_once(identities_taken_, [this] {
      for (const ParquetFile& file : files_) {
        identities_.push_back(
            FileIdentity{file.path, file.size_bytes, HashBytes(file.metadata->SerializeToString())});
      }
    });
    return identities_;
  }

  // Deals the remaining row groups in block order round-robin (as file_source.cpp does for text
  // blocks: part-read groups are the earliest, each split reads in order, blocks keep their
  // numbers).
  std::vector<std::unique_ptr<SourceSplit>> CreateSplitsAfter(
      const std::vector<std::string>& positions, int max_splits,
      OperatorMetrics* metrics) const override {
    MS_CHECK(max_splits >= 1, "at least one split");
    std::map<int64_t, RowGroupRef> remaining;  // by block
    for (const std::string& position : positions) {
      PositionReader reader(position, kParquetPositionTag, name_);
      CheckFileIdentities(Identities(), name_, &reader);
      const int64_t count = reader.GetInt();
      for (int64_t i = 0; i < count; ++i) {
        const int64_t file_index = reader.GetInt();
        const int64_t row_group = reader.GetInt();
        RowGroupRef group{0, 0, reader.GetInt()};
        group.rows_done = reader.GetInt();
        group.first_part = static_cast<uint64_t>(reader.GetInt());
        const bool fits =
            file_index >= 0 && file_index < static_cast<int64_t>(files_.size()) && row_group >= 0 &&
            row_group < files_[static_cast<size_t>(file_index)].metadata->num_row_groups() &&
            group.rows_done >= 0;
        if (!fits || !remaining.emplace(group.block, group).second) {
          throw UserError(name_ + ": a checkpointed position names a row group twice or one the "
                          "files do not have; the checkpoint is damaged (restore from another "
                          "one)");
        }
        remaining[group.block].file_index = static_cast<size_t>(file_index);
        remaining[group.block].row_group = static_cast<int>(row_group);
      }
      reader.ExpectEnd();
    }
    const int64_t split_count = std::max<int64_t>(
        1, std::min<int64_t>(max_splits, static_cast<int64_t>(remaining.size())));
    std::vector<std::vector<RowGroupRef>> dealt(static_cast<size_t>(split_count));
    int64_t next = 0;
    for (const auto& [block, group] : remaining) {
      dealt[static_cast<size_t>(next++ % split_count)].push_back(group);
    }
    std::vector<std::unique_ptr<SourceSplit>> result;
    auto self = shared_from_this();
    for (auto& groups : dealt) {
      result.push_back(std::make_unique<ParquetSplit>(self, std::move(groups), metrics));
    }
    return result;
  }

  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                         OperatorMetrics* metrics) const override {
    MS_CHECK(max_splits >= 1, "at least one split");
    std::vector<RowGroupRef> groups;
    for (size_t file = 0; file < files_.size(); ++file) {
      const auto& metadata = *files_[file].metadata;
      for (int group = 0; group < metadata.num_row_groups(); ++group) {
        groups.push_back({file, group, static_cast<int64_t>(groups.size())});
      }
    }
    // Row groups dealt round-robin, in file order (source.h: interleaved splits).
    const int64_t group_count = static_cast<int64_t>(groups.size());
    const int64_t split_count = std::max<int64_t>(1, std::min<int64_t>(max_splits, group_count));
    std::vector<std::unique_ptr<SourceSplit>> result;
    auto self = shared_from_this();
    for (int64_t k = 0; k < split_count; ++k) {
      std::vector<RowGroupRef> dealt;
      for (int64_t g = k; g < group_count; g += split_count) dealt.push_back(groups[g]);
      result.push_back(std::make_unique<ParquetSplit>(self, std::move(dealt), metrics));
    }
    return result;
  }

 private:
  std::string name_;
  std::vector<ParquetFile> files_;
  SchemaPtr schema_;
  SourceOptions options_;
  mutable std::once_flag identities_taken_;
  mutable std::vector<FileIdentity> identities_;
};

std::string ParquetSplit::Position() const {
  PositionWriter writer(kParquetPositionTag);
  PutFileIdentities(source_->Identities(), &writer);
  writer.PutInt(static_cast<int64_t>(groups_.size() - group_index_));
  for (size_t i = group_index_; i < groups_.size(); ++i) {
    const RowGroupRef& group = groups_[i];
    const bool started = i == group_index_ && batch_reader_;
    writer.PutInt(static_cast<int64_t>(group.file_index));
    writer.PutInt(group.row_group);
    writer.PutInt(group.block);
    writer.PutInt(started ? rows_returned_ : group.rows_done);
    writer.PutInt(static_cast<int64_t>(started ? part_ : group.first_part));
  }
  return writer.Take();
}

SplitOutput ParquetSplit::Next() {
  SplitOutput output;
  while (group_index_ < groups_.size()) {
    const RowGroupRef& group = groups_[group_index_];
    const ParquetFile& file = source_->files()[group.file_index];
    if (!batch_reader_) {
      if (!file_reader_ || open_file_ != group.file_index) {
        file_reader_ = OpenReader(file, source_->batch_size());
        open_file_ = group.file_index;
      }
      auto reader = file_reader_->GetRecordBatchReader({group.row_group});
      if (!reader.ok()) ThrowUnreadable(file.path, reader.status().ToString());
      batch_reader_ = std::move(reader).ValueUnsafe();
      part_ = group.first_part;
      rows_returned_ = group.rows_done;
      rows_to_skip_ = group.rows_done;
      if (metrics_ != nullptr) {
        metrics_->bytes_read += file.metadata->RowGroup(group.row_group)->total_compressed_size();
      }
    }
    std::shared_ptr<arrow::RecordBatch> batch;
    arrow::Status status;
    try {
      status = batch_reader_->ReadNext(&batch);
    } catch (const parquet::ParquetException& error) {
      ThrowUnreadable(file.path, error.what());
    }
    if (!status.ok()) ThrowUnreadable(file.path, status.ToString());
    if (batch) {
      // A restored group's rows returned before the checkpoint are read again and dropped:
      // the Arrow reader starts at a row group's first row (at most one group's reading lost).
      if (rows_to_skip_ > 0) {
        const int64_t skipped = std::min(rows_to_skip_, batch->num_rows());
        rows_to_skip_ -= skipped;
        batch = batch->Slice(skipped);
      }
      if (batch->num_rows() == 0) continue;
      rows_returned_ += batch->num_rows();
      // The source's schema, without the file's key-value metadata.
      output.rows = arrow::RecordBatch::Make(source_->schema(), batch->num_rows(), batch->columns());
      if (metrics_ != nullptr) metrics_->rows_out += batch->num_rows();
      output.position = ChunkPosition(group.block, part_++);
      return output;
    }
    batch_reader_.reset();
    ++group_index_;
  }
  output.end = true;
  return output;
}

}  // namespace

std::shared_ptr<Source> MakeParquetSource(const std::string& path_or_glob, SourceOptions options) {
  const std::string name = "read_parquet(" + path_or_glob + ")";
  if (options.batch_size <= 0) throw UserError(name + ": batch_size must be positive");
  std::vector<ParquetFile> files;
  SchemaPtr schema;
  for (const std::string& path : ExpandFilePaths(path_or_glob)) {
    std::error_code size_error;
    const auto size_bytes = std::filesystem::file_size(path, size_error);
    ParquetFile file{path, nullptr, size_error ? -1 : static_cast<int64_t>(size_bytes)};
    std::shared_ptr<arrow::Schema> file_schema;
    try {
      parquet::arrow::FileReaderBuilder builder;
      auto status = builder.OpenFile(path);
      if (!status.ok()) ThrowUnreadable(path, status.ToString());
      file.metadata = builder.raw_reader()->metadata();
      auto reader = builder.Build();
      if (!reader.ok()) ThrowUnreadable(path, reader.status().ToString());
      status = (*reader)->GetSchema(&file_schema);
      if (!status.ok()) ThrowUnreadable(path, status.ToString());
    } catch (const parquet::ParquetException& error) {
      ThrowUnreadable(path, error.what());
    }
    if (!schema) {
      schema = file_schema->RemoveMetadata();
    } else if (!file_schema->Equals(*schema, /*check_metadata=*/false)) {
      throw UserError(name + ": '" + path + "' has the schema " + file_schema->ToString() +
                      ", unlike '" + files.front().path + "' (" + schema->ToString() + ")");
    }
    files.push_back(std::move(file));
  }
  return std::make_shared<ParquetSource>(name, std::move(files), std::move(schema), options);
}

}  // namespace millstream
