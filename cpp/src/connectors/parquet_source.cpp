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
#include <parquet/arrow/schema.h>

#include "connectors/file_identity.h"
#include "connectors/file_paths.h"
#include "connectors/file_source.h"
#include "connectors/parquet_row_group_filter.h"
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

// The compressed bytes of these leaf columns' chunks in a row group: what reading them reads.
int64_t ColumnChunkBytes(const parquet::RowGroupMetaData& group, const std::vector<int>& leaves) {
  int64_t bytes = 0;
  for (int leaf : leaves) bytes += group.ColumnChunk(leaf)->total_compressed_size();
  return bytes;
}

// The compressed bytes of all column chunks of a row group (its optional total_compressed_size
// field is not always written).
int64_t RowGroupBytes(const parquet::RowGroupMetaData& group) {
  int64_t bytes = 0;
  for (int leaf = 0; leaf < group.num_columns(); ++leaf) {
    bytes += group.ColumnChunk(leaf)->total_compressed_size();
  }
  return bytes;
}

// Per top-level field of the file's Arrow schema, the Parquet leaf columns that make it (one
// for a flat column, several for a struct), as FileReader's column indices count them.
std::vector<std::vector<int>> LeavesOfFields(const parquet::FileMetaData& metadata,
                                             const std::string& path);
// Split positions (SourceSplit::Position): the files' identities (size and a hash of the
// footer, which holds every row group's offsets, sizes and statistics), then the remaining row
// groups (file, row group, block, rows_done, first_part).
constexpr std::string_view kParquetPositionTag = "millstream-parquet-split-v1";

[[noreturn]] void ThrowUnreadable(const std::string& path, const std::string& detail) {
  throw UserError("cannot read '" + path + "' as Parquet: " + detail);
}

void CollectLeaves(const parquet::arrow::SchemaField& field, std::vector<int>* leaves) {
  if (field.column_index >= 0) leaves->push_back(field.column_index);
  for (const auto& child : field.children) CollectLeaves(child, leaves);
}

std::vector<std::vector<int>> LeavesOfFields(const parquet::FileMetaData& metadata,
                                             const std::string& path) {
  parquet::arrow::SchemaManifest manifest;
  auto status = parquet::arrow::SchemaManifest::Make(
      metadata.schema(), metadata.key_value_metadata(),
      parquet::default_arrow_reader_properties(), &manifest);
  if (!status.ok()) ThrowUnreadable(path, status.ToString());
  std::vector<std::vector<int>> leaves_of_field(manifest.schema_fields.size());
  for (size_t field = 0; field < manifest.schema_fields.size(); ++field) {
    CollectLeaves(manifest.schema_fields[field], &leaves_of_field[field]);
  }
  return leaves_of_field;
}

// `decode_columns_in_parallel`: the reader decodes a batch's columns on Arrow's CPU thread pool
// (see ParquetSource::CreateSplits); otherwise on the calling worker alone.
std::unique_ptr<parquet::arrow::FileReader> OpenReader(const ParquetFile& file, int64_t batch_size,
                                                       bool decode_columns_in_parallel) {
  try {
    parquet::ArrowReaderProperties properties;
    properties.set_batch_size(batch_size);
    properties.set_use_threads(decode_columns_in_parallel);
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
               bool decode_columns_in_parallel, OperatorMetrics* metrics)
      : source_(std::move(source)), groups_(std::move(groups)),
        decode_columns_in_parallel_(decode_columns_in_parallel), metrics_(metrics) {}
  SplitOutput Next() override;
  std::string Position() const override;

 private:
  std::shared_ptr<const ParquetSource> source_;
  std::vector<RowGroupRef> groups_;  // read one after the other, each with its own reader
  bool decode_columns_in_parallel_;
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
                std::vector<std::vector<int>> leaves_of_field, SourceOptions options,
                std::shared_ptr<const ParquetRowGroupFilter> filter = nullptr)
      : name_(std::move(name)), files_(std::move(files)), schema_(std::move(schema)),
        leaves_of_field_(std::move(leaves_of_field)), options_(options),
        filter_(std::move(filter)) {
    for (const auto& leaves : leaves_of_field_) {
      leaf_columns_.insert(leaf_columns_.end(), leaves.begin(), leaves.end());
    }
  }

  SchemaPtr schema() const override { return schema_; }
  std::string name() const override { return name_; }
  const std::vector<ParquetFile>& files() const { return files_; }
  int64_t batch_size() const { return options_.batch_size; }
  // The Parquet leaf columns read, which make the schema's fields.
  const std::vector<int>& leaf_columns() const { return leaf_columns_; }

  // Reads only the column chunks of `columns`: the others are neither read nor decoded.
  std::shared_ptr<Source> WithColumns(const std::vector<std::string>& columns) const override {
    arrow::FieldVector fields;
    std::vector<std::vector<int>> leaves_of_field;
    for (int field : SourceColumnIndices(*schema_, columns, name_)) {
      fields.push_back(schema_->field(field));
      leaves_of_field.push_back(leaves_of_field_[field]);
    }
    return std::make_shared<ParquetSource>(name_, files_, arrow::schema(std::move(fields)),
                                           std::move(leaves_of_field), options_, filter_);
  }

  // Skips the row groups whose statistics rule the filter out (ParquetRowGroupFilter).
  std::shared_ptr<Source> WithRowFilter(const std::string& predicate_json) const override {
    return std::make_shared<ParquetSource>(
        name_, files_, schema_, leaves_of_field_, options_,
        std::make_shared<const ParquetRowGroupFilter>(predicate_json, *schema_, leaves_of_field_));
  }

  // False when the filter rules the whole group out: the split skips it unread.
  bool MayMatch(const parquet::RowGroupMetaData& group) const {
    return filter_ == nullptr || filter_->MayMatch(group);
  }

  const std::vector<FileIdentity>& Identities() const {
    return identities_.Get([this] {
      std::vector<FileIdentity> identities;
      for (const ParquetFile& file : files_) {
        identities.push_back(
            FileIdentity{file.path, file.size_bytes, HashBytes(file.metadata->SerializeToString())});
      }
      return identities;
    });
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
    // As in CreateSplits: fewer row groups left than workers, and the splits decode columns on
    // Arrow's pool.
    const bool decode_columns_in_parallel = static_cast<int64_t>(remaining.size()) < max_splits;
    std::vector<std::unique_ptr<SourceSplit>> result;
    auto self = shared_from_this();
    for (auto& groups : dealt) {
      result.push_back(std::make_unique<ParquetSplit>(self, std::move(groups),
                                                      decode_columns_in_parallel, metrics));
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
    // Parallelism comes from the splits, one a row group at most; with fewer row groups than
    // the run has workers, the workers without a split are idle, and the splits decode their
    // columns on Arrow's CPU thread pool (a thread per core, or OMP_NUM_THREADS) to use them.
    const bool decode_columns_in_parallel = group_count < max_splits;
    std::vector<std::unique_ptr<SourceSplit>> result;
    auto self = shared_from_this();
    for (int64_t k = 0; k < split_count; ++k) {
      std::vector<RowGroupRef> dealt;
      for (int64_t g = k; g < group_count; g += split_count) dealt.push_back(groups[g]);
      result.push_back(std::make_unique<ParquetSplit>(self, std::move(dealt),
                                                      decode_columns_in_parallel, metrics));
    }
    return result;
  }

 private:
  std::string name_;
  std::vector<ParquetFile> files_;
  SchemaPtr schema_;
  std::vector<std::vector<int>> leaves_of_field_;  // per field of schema_: its leaf columns
  std::vector<int> leaf_columns_;                  // all of them, in order
  SourceOptions options_;
  std::shared_ptr<const ParquetRowGroupFilter> filter_;  // null: every row group is read
  LazyFileIdentities identities_;
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
      const auto metadata = file.metadata->RowGroup(group.row_group);
      if (!source_->MayMatch(*metadata)) {
        if (metrics_ != nullptr) {
          metrics_->row_groups_pruned += 1;
          metrics_->rows_pruned += metadata->num_rows();
          metrics_->bytes_pruned += RowGroupBytes(*metadata);
        }
        ++group_index_;
        continue;
      }
      if (!file_reader_ || open_file_ != group.file_index) {
        file_reader_ = OpenReader(file, source_->batch_size(), decode_columns_in_parallel_);
        open_file_ = group.file_index;
      }
      auto reader =
          file_reader_->GetRecordBatchReader({group.row_group}, source_->leaf_columns());
      if (!reader.ok()) ThrowUnreadable(file.path, reader.status().ToString());
      batch_reader_ = std::move(reader).ValueUnsafe();
      part_ = group.first_part;
      rows_returned_ = group.rows_done;
      rows_to_skip_ = group.rows_done;
      if (metrics_ != nullptr) {
        const int64_t read_bytes = ColumnChunkBytes(*metadata, source_->leaf_columns());
        metrics_->bytes_read += read_bytes;
        metrics_->bytes_pruned += RowGroupBytes(*metadata) - read_bytes;
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
  // Files of one schema have the same leaves: the first file's count for all.
  auto leaves_of_field = LeavesOfFields(*files.front().metadata, files.front().path);
  MS_CHECK(static_cast<int>(leaves_of_field.size()) == schema->num_fields(),
           "a Parquet schema field per Arrow field");
  return std::make_shared<ParquetSource>(name, std::move(files), std::move(schema),
                                         std::move(leaves_of_field), options);
}

}  // namespace millstream
