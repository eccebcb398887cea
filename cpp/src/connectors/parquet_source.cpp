// MakeParquetSource (declared in connectors/file_source.h). Parquet is typed and checksummed
// by its own format: there are no bad rows to skip, and a file that cannot be decoded raises a
// UserError naming it whatever on_error says.
#include <algorithm>

#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include "connectors/file_paths.h"
#include "connectors/file_source.h"
#include "core/error.h"

namespace millstream {

namespace {

struct ParquetFile {
  std::string path;
  std::shared_ptr<parquet::FileMetaData> metadata;  // read once, at construction
};

// Row groups of one file that a split reads, in order.
struct RowGroupRun {
  size_t file_index;
  std::vector<int> row_groups;
};

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
  ParquetSplit(std::shared_ptr<const ParquetSource> source, std::vector<RowGroupRun> runs,
               OperatorMetrics* metrics)
      : source_(std::move(source)), runs_(std::move(runs)), metrics_(metrics) {}
  SplitOutput Next() override;

 private:
  std::shared_ptr<const ParquetSource> source_;
  std::vector<RowGroupRun> runs_;
  OperatorMetrics* metrics_;
  size_t run_index_ = 0;
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

  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                         OperatorMetrics* metrics) const override {
    MS_CHECK(max_splits >= 1, "at least one split");
    struct RowGroup {
      size_t file_index;
      int index;
      int64_t rows;
    };
    std::vector<RowGroup> groups;
    int64_t total_rows = 0;
    for (size_t file = 0; file < files_.size(); ++file) {
      const auto& metadata = *files_[file].metadata;
      for (int group = 0; group < metadata.num_row_groups(); ++group) {
        const int64_t rows = metadata.RowGroup(group)->num_rows();
        groups.push_back({file, group, rows});
        total_rows += rows;
      }
    }
    // Contiguous runs of row groups with about equal shares of the rows, in file order: split k
    // starts at the first group whose middle row lies in the k-th share, and every split gets
    // at least one group.
    const int64_t group_count = static_cast<int64_t>(groups.size());
    const int64_t split_count = std::max<int64_t>(1, std::min<int64_t>(max_splits, group_count));
    std::vector<int64_t> first_group(split_count + 1, group_count);
    first_group[0] = 0;
    int64_t next_group = 0;
    int64_t rows_before = 0;
    for (int64_t k = 1; k < split_count; ++k) {
      const int64_t share_start = total_rows * k / split_count;
      while (next_group < group_count && rows_before + groups[next_group].rows / 2 < share_start) {
        rows_before += groups[next_group++].rows;
      }
      first_group[k] = std::clamp(next_group, first_group[k - 1] + 1, group_count - (split_count - k));
    }
    std::vector<std::unique_ptr<SourceSplit>> result;
    auto self = shared_from_this();
    for (int64_t k = 0; k < split_count; ++k) {
      std::vector<RowGroupRun> runs;
      for (int64_t g = first_group[k]; g < first_group[k + 1]; ++g) {
        if (runs.empty() || runs.back().file_index != groups[g].file_index) {
          runs.push_back(RowGroupRun{groups[g].file_index, {}});
        }
        runs.back().row_groups.push_back(groups[g].index);
      }
      result.push_back(std::make_unique<ParquetSplit>(self, std::move(runs), metrics));
    }
    return result;
  }

 private:
  std::string name_;
  std::vector<ParquetFile> files_;
  SchemaPtr schema_;
  SourceOptions options_;
};

SplitOutput ParquetSplit::Next() {
  SplitOutput output;
  while (run_index_ < runs_.size()) {
    const RowGroupRun& run = runs_[run_index_];
    const ParquetFile& file = source_->files()[run.file_index];
    if (!batch_reader_) {
      file_reader_ = OpenReader(file, source_->batch_size());
      auto reader = file_reader_->GetRecordBatchReader(run.row_groups);
      if (!reader.ok()) ThrowUnreadable(file.path, reader.status().ToString());
      batch_reader_ = std::move(reader).ValueUnsafe();
      if (metrics_ != nullptr) {
        for (const int group : run.row_groups) {
          metrics_->bytes_read += file.metadata->RowGroup(group)->total_compressed_size();
        }
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
      if (batch->num_rows() == 0) continue;
      // The source's schema, without the file's key-value metadata.
      output.rows = arrow::RecordBatch::Make(source_->schema(), batch->num_rows(), batch->columns());
      if (metrics_ != nullptr) metrics_->rows_out += batch->num_rows();
      return output;
    }
    batch_reader_.reset();
    file_reader_.reset();
    ++run_index_;
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
    ParquetFile file{path, nullptr};
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
