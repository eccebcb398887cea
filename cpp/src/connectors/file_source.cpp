#include "connectors/file_source.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "connectors/file_paths.h"
#include "core/error.h"
#include "formats/csv_reader.h"
#include "formats/jsonl_reader.h"
#include "formats/mapped_file.h"
#include "formats/text_lines.h"

namespace millstream {

namespace {

// A file's bytes that hold rows: after its byte-order mark and, for CSV, its header row.
struct FileData {
  std::shared_ptr<const MappedFile> file;
  const char* data_begin;
};

// Part of one file that a split reads; begin is a line start.
struct ByteRange {
  size_t file_index;
  const char* begin;
  const char* end;
  int64_t block = 0;  // the block it is part of (Source::CreateSplits)
};

// A point in the concatenation of all files' data.
struct Position {
  size_t file_index;
  const char* pointer;
};

// The immutable part shared by a text source and its splits.
class TextFileSource : public Source, public std::enable_shared_from_this<TextFileSource> {
 public:
  TextFileSource(std::string name, std::vector<std::shared_ptr<const MappedFile>> files,
                 SchemaPtr schema, SourceOptions options)
      : name_(std::move(name)), schema_(std::move(schema)), options_(options) {
    if (options_.batch_size <= 0) throw UserError(name_ + ": batch_size must be positive");
    specs_ = ColumnSpecsOf(*schema_, name_);
    std::set<std::string> names;
    for (const auto& spec : specs_) {
      if (!names.insert(spec.name).second) {
        throw UserError(name_ + ": the schema names field '" + spec.name + "' twice");
      }
    }
    for (auto& file : files) {
      files_.push_back(FileData{file, file->data() + ByteOrderMarkLength(file->data(), file->size())});
    }
  }

  SchemaPtr schema() const override { return schema_; }
  std::string name() const override { return name_; }
  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                         OperatorMetrics* metrics) const override;

  virtual std::unique_ptr<TextRowReader> MakeReader(size_t file_index) const = 0;

  const std::vector<FileData>& files() const { return files_; }
  const std::vector<ColumnSpec>& specs() const { return specs_; }
  const SourceOptions& options() const { return options_; }

 protected:
  // For sources with a header: data starts after it.
  void SetDataBegin(size_t file_index, const char* data_begin) {
    files_[file_index].data_begin = data_begin;
  }

 private:
  Position Align(Position position) const;
  std::vector<ByteRange> RangesBetween(Position from, Position to) const;

  std::string name_;
  SchemaPtr schema_;
  SourceOptions options_;
  std::vector<ColumnSpec> specs_;
  std::vector<FileData> files_;
};

class TextFileSplit final : public SourceSplit {
 public:
  TextFileSplit(std::shared_ptr<const TextFileSource> source, std::vector<ByteRange> ranges,
                OperatorMetrics* metrics)
      : source_(std::move(source)),
        ranges_(std::move(ranges)),
        metrics_(metrics),
        columns_(source_->schema(), source_->specs(), source_->options().batch_size) {}

  SplitOutput Next() override {
    SplitOutput output;
    const int64_t block = range_index_ < ranges_.size() ? ranges_[range_index_].block : 0;
    if (block != block_) {
      block_ = block;
      part_ = 0;
    }
    output.position = ChunkPosition(block, part_++);
    // A chunk ends at its block's end: sinks order chunks by block (ChunkPosition).
    while (columns_.rows() < columns_.capacity() && range_index_ < ranges_.size() &&
           ranges_[range_index_].block == block) {
      const ByteRange& range = ranges_[range_index_];
      if (!reader_) {
        const FileData& data = source_->files()[range.file_index];
        reader_ = source_->MakeReader(range.file_index);
        bad_rows_.emplace(data.file->path(), data.file->data(), source_->options().on_error,
                          metrics_, &dead_letters_);
        cursor_ = range.begin;
      }
      const char* before = cursor_;
      cursor_ = reader_->ReadRows(cursor_, range.end, columns_, *bad_rows_);
      if (metrics_ != nullptr) metrics_->bytes_read += cursor_ - before;
      if (cursor_ >= range.end) {
        ++range_index_;
        reader_.reset();
        bad_rows_.reset();
      } else if (columns_.rows() < columns_.capacity()) {
        break;  // the reader stopped at kMaxBatchTextBytes: emit what we have
      }
    }
    output.rows = columns_.Finish();
    output.dead_letters = dead_letters_.Finish();
    if (output.rows && metrics_ != nullptr) metrics_->rows_out += output.rows->num_rows();
    output.end = range_index_ >= ranges_.size();
    return output;
  }

 private:
  std::shared_ptr<const TextFileSource> source_;
  std::vector<ByteRange> ranges_;
  OperatorMetrics* metrics_;
  ColumnBuffers columns_;
  DeadLetterBuilder dead_letters_;
  size_t range_index_ = 0;
  int64_t block_ = -1;  // of the last chunk
  uint64_t part_ = 0;   // the next chunk's place in block_
  std::unique_ptr<TextRowReader> reader_;  // of ranges_[range_index_]
  std::optional<BadRows> bad_rows_;
  const char* cursor_ = nullptr;
};

// Moves a position forward to the next line start (the byte after a '\n'), so that a split
// begins where a line does.
Position TextFileSource::Align(Position position) const {
  const FileData& data = files_[position.file_index];
  if (position.pointer <= data.data_begin) return {position.file_index, data.data_begin};
  const char* end = data.file->end();
  // A position right after a '\n' is already a line start: look from the byte before it.
  const char* from = position.pointer - 1;
  const char* newline =
      static_cast<const char*>(std::memchr(from, '\n', static_cast<size_t>(end - from)));
  return {position.file_index, newline == nullptr ? end : newline + 1};
}

std::vector<ByteRange> TextFileSource::RangesBetween(Position from, Position to) const {
  std::vector<ByteRange> ranges;
  for (size_t file = from.file_index; file <= to.file_index; ++file) {
    const char* begin = file == from.file_index ? from.pointer : files_[file].data_begin;
    const char* end = file == to.file_index ? to.pointer : files_[file].file->end();
    if (begin < end) ranges.push_back(ByteRange{file, begin, end});
  }
  return ranges;
}

std::vector<std::unique_ptr<SourceSplit>> TextFileSource::CreateSplits(
    int max_splits, OperatorMetrics* metrics) const {
  MS_CHECK(max_splits >= 1, "at least one split");
  std::vector<int64_t> sizes;
  int64_t total_bytes = 0;
  for (const FileData& data : files_) {
    sizes.push_back(std::max<int64_t>(0, data.file->end() - data.data_begin));
    total_bytes += sizes.back();
  }
  const int64_t split_count = std::max<int64_t>(1, std::min<int64_t>(max_splits, total_bytes));
  // Blocks of about split_block_bytes (at least one per split) dealt round-robin (source.h:
  // interleaved splits); block boundaries at equal shares of all bytes, each moved to the next
  // line start.
  const int64_t block_bytes = std::max<int64_t>(1, options_.split_block_bytes);
  const int64_t block_count =
      std::max(split_count, std::min(total_bytes, (total_bytes + block_bytes - 1) / block_bytes));
  std::vector<Position> boundaries;
  boundaries.push_back({0, files_[0].data_begin});
  for (int64_t k = 1; k < block_count; ++k) {
    int64_t offset = total_bytes * k / block_count;
    size_t file = 0;
    while (file + 1 < files_.size() && offset >= sizes[file]) offset -= sizes[file++];
    boundaries.push_back(Align({file, files_[file].data_begin + offset}));
  }
  boundaries.push_back({files_.size() - 1, files_.back().file->end()});

  std::vector<std::vector<ByteRange>> ranges_of_split(split_count);
  for (int64_t block = 0; block < block_count; ++block) {
    // A line longer than a block makes boundaries coincide: such a block adds nothing.
    for (ByteRange range : RangesBetween(boundaries[block], boundaries[block + 1])) {
      range.block = block;
      ranges_of_split[block % split_count].push_back(range);
    }
  }
  std::vector<std::unique_ptr<SourceSplit>> splits;
  auto self = shared_from_this();
  for (auto& ranges : ranges_of_split) {
    if (ranges.empty() && !splits.empty()) continue;  // no split for nothing (but always one)
    splits.push_back(std::make_unique<TextFileSplit>(self, std::move(ranges), metrics));
  }
  return splits;
}

std::vector<std::shared_ptr<const MappedFile>> MapFiles(const std::string& path_or_glob) {
  std::vector<std::shared_ptr<const MappedFile>> files;
  for (const std::string& path : ExpandFilePaths(path_or_glob)) {
    files.push_back(MappedFile::Open(path));
  }
  return files;
}

class JsonlFileSource final : public TextFileSource {
 public:
  using TextFileSource::TextFileSource;
  std::unique_ptr<TextRowReader> MakeReader(size_t file_index) const override {
    return MakeJsonlReader(specs(), files()[file_index].file->end());
  }
};

class CsvFileSource final : public TextFileSource {
 public:
  CsvFileSource(std::string name, std::vector<std::shared_ptr<const MappedFile>> files,
                SchemaPtr schema, SourceOptions options, CsvOptions csv)
      : TextFileSource(std::move(name), files, std::move(schema), options), csv_(csv) {
    for (size_t i = 0; i < files.size(); ++i) {
      layouts_.push_back(MakeCsvLayout(*files[i], specs(), csv_));
      SetDataBegin(i, layouts_.back().data_begin);
    }
  }
  std::unique_ptr<TextRowReader> MakeReader(size_t file_index) const override {
    return MakeCsvReader(specs(), layouts_[file_index], csv_.delimiter, files()[file_index].file->end());
  }

 private:
  CsvOptions csv_;
  std::vector<CsvLayout> layouts_;
};

}  // namespace

std::shared_ptr<Source> MakeJsonlSource(const std::string& path_or_glob, SchemaPtr schema,
                                        SourceOptions options) {
  auto files = MapFiles(path_or_glob);
  if (!schema) schema = InferJsonlSchema(files, kInferenceRows);
  return std::make_shared<JsonlFileSource>("read_jsonl(" + path_or_glob + ")", std::move(files),
                                           std::move(schema), options);
}

std::shared_ptr<Source> MakeCsvSource(const std::string& path_or_glob, SchemaPtr schema,
                                      SourceOptions options, CsvOptions csv) {
  if (csv.delimiter == '"' || csv.delimiter == '\n' || csv.delimiter == '\r') {
    throw UserError("read_csv(" + path_or_glob + "): the delimiter cannot be a quote or a line end");
  }
  auto files = MapFiles(path_or_glob);
  if (!schema) schema = InferCsvSchema(files, csv, kInferenceRows);
  return std::make_shared<CsvFileSource>("read_csv(" + path_or_glob + ")", std::move(files),
                                         std::move(schema), options, csv);
}

}  // namespace millstream
