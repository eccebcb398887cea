#include "connectors/file_source.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>

#include "connectors/file_identity.h"
#include "connectors/file_paths.h"
#include "connectors/position_bytes.h"
#include "core/error.h"
#include "core/hash.h"
#include "formats/csv_reader.h"
#include "formats/jsonl_reader.h"
#include "formats/input_file.h"
#include "formats/text_lines.h"

namespace millstream {

namespace {

// A file's bytes that hold rows: after its byte-order mark and, for CSV, its header row.
struct FileData {
  std::shared_ptr<const InputFile> file;
  int64_t data_begin;  // offset
};

// Part of one file that a split reads; begin is a line start.
struct ByteRange {
  size_t file_index;
  int64_t begin;  // offsets in the file
  int64_t end;
  int64_t block = 0;  // the block it is part of (Source::CreateSplits)
  // The place among its block's chunks of the first chunk read from here when the range starts
  // its block in a split: 0, but a restored split resumes a block part-way (CreateSplitsAfter)
  // and numbers its chunks on from where the checkpointed split stopped.
  uint64_t first_part = 0;
};

// Split positions (SourceSplit::Position) of text sources: the files' identities, then the
// split's remaining byte ranges (file, begin, end, block, first_part). A range begins at a line
// start, mid-block after a restore. Line numbers need nothing more: a bad row's line is counted
// from the start of its file (BadRows), wherever the range begins.
constexpr std::string_view kTextPositionTag = "millstream-text-split-v1";

// Bytes at each end of a text file that its fingerprint covers (file_identity.h).
constexpr int64_t kFingerprintBytes = 4096;

// A point in the concatenation of all files' data.
struct Position {
  size_t file_index;
  int64_t offset;
};

// Bytes readable after a range's text: simdjson reads up to SIMDJSON_PADDING bytes past a
// document, the CSV scanner 16 bytes at a time. They hold line ends, so nothing reads on.
constexpr int64_t kTextPaddingBytes = 64;

int64_t ByteOrderMarkLengthOf(const InputFile& file) {
  char start[3] = {};
  const int64_t length = std::min<int64_t>(3, file.size());
  file.ReadAt(0, length, start);
  return static_cast<int64_t>(ByteOrderMarkLength(start, static_cast<size_t>(length)));
}

// The immutable part shared by a text source and its splits.
class TextFileSource : public Source, public std::enable_shared_from_this<TextFileSource> {
 public:
  TextFileSource(std::string name, std::vector<std::shared_ptr<const InputFile>> files,
                 SchemaPtr schema, SourceOptions options)
      : name_(std::move(name)), schema_(std::move(schema)), options_(options) {
    if (options_.batch_size <= 0) throw UserError(name_ + ": batch_size must be positive");
    specs_ = ColumnSpecsOf(*schema_, name_);
    // The marks ColumnSpecsOf read (kUnitNotGivenKey) are not part of the rows' schema.
    arrow::FieldVector fields;
    for (const auto& field : schema_->fields()) fields.push_back(field->RemoveMetadata());
    schema_ = arrow::schema(std::move(fields));
    std::set<std::string> names;
    for (const auto& spec : specs_) {
      if (!names.insert(spec.name).second) {
        throw UserError(name_ + ": the schema names field '" + spec.name + "' twice");
      }
    }
    for (auto& file : files) files_.push_back(FileData{file, ByteOrderMarkLengthOf(*file)});
  }

  SchemaPtr schema() const override { return schema_; }
  std::string name() const override { return name_; }
  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                         OperatorMetrics* metrics) const override;
  std::vector<std::unique_ptr<SourceSplit>> CreateSplitsAfter(
      const std::vector<std::string>& positions, int max_splits,
      OperatorMetrics* metrics) const override;

  // The files as a checkpoint records them; taken once, when first asked (runs without
  // checkpoints never read the bytes).
  const std::vector<FileIdentity>& Identities() const;

  // A reader of a range of file `file_index` read into memory that is readable up to
  // `readable_end`.
  virtual std::unique_ptr<TextRowReader> MakeReader(size_t file_index,
                                                    const char* readable_end) const = 0;

  const std::vector<FileData>& files() const { return files_; }
  const std::vector<ColumnSpec>& specs() const { return specs_; }
  const SourceOptions& options() const { return options_; }

 protected:
  // For sources with a header: data starts after it.
  void SetDataBegin(size_t file_index, int64_t data_begin) {
    files_[file_index].data_begin = data_begin;
  }
  // Makes this copy read only `columns` (Source::WithColumns): the readers then have no column
  // and no parse for the others. Returns each former column's new index, -1 for one not read.
  std::vector<int> Narrow(const std::vector<std::string>& columns) {
    std::vector<int> new_index(schema_->num_fields(), -1);
    arrow::FieldVector fields;
    std::vector<ColumnSpec> specs;
    for (int column : SourceColumnIndices(*schema_, columns, name_)) {
      new_index[column] = static_cast<int>(fields.size());
      fields.push_back(schema_->field(column));
      specs.push_back(specs_[column]);
    }
    schema_ = arrow::schema(std::move(fields));
    specs_ = std::move(specs);
    return new_index;
  }

 private:
  Position Align(Position position) const;
  std::vector<ByteRange> RangesBetween(Position from, Position to) const;

  std::string name_;
  SchemaPtr schema_;
  SourceOptions options_;
  std::vector<ColumnSpec> specs_;
  std::vector<FileData> files_;
  LazyFileIdentities identities_;
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
      part_ = range_index_ < ranges_.size() ? ranges_[range_index_].first_part : 0;
    }
    output.position = ChunkPosition(block, part_++);
    // A chunk ends at its block's end: sinks order chunks by block (ChunkPosition).
    while (columns_.rows() < columns_.capacity() && range_index_ < ranges_.size() &&
           ranges_[range_index_].block == block) {
      const ByteRange& range = ranges_[range_index_];
      if (!reader_) StartRange(range);
      const char* before = cursor_;
      cursor_ = reader_->ReadRows(cursor_, text_end_, columns_, *bad_rows_);
      if (metrics_ != nullptr) metrics_->bytes_read += cursor_ - before;
      if (cursor_ >= text_end_) {
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

  std::string Position() const override {
    PositionWriter writer(kTextPositionTag);
    PutFileIdentities(source_->Identities(), &writer);
    writer.PutInt(static_cast<int64_t>(ranges_.size() - range_index_));
    for (size_t i = range_index_; i < ranges_.size(); ++i) {
      ByteRange range = ranges_[i];
      // The reader stops between rows: the rest of its range starts at a row.
      if (i == range_index_ && reader_) range.begin += cursor_ - text_.get();
      if (range.block == block_) range.first_part = part_;  // chunks of it were returned
      writer.PutInt(static_cast<int64_t>(range.file_index));
      writer.PutInt(range.begin);
      writer.PutInt(range.end);
      writer.PutInt(range.block);
      writer.PutInt(static_cast<int64_t>(range.first_part));
    }
    return writer.Take();
  }

 private:
  // Reads the range's bytes into text_ (a short read is an error naming the file) and starts
  // its reader.
  void StartRange(const ByteRange& range) {
    const FileData& data = source_->files()[range.file_index];
    const int64_t length = range.end - range.begin;
    if (length + kTextPaddingBytes > text_capacity_bytes_) {
      text_capacity_bytes_ = length + kTextPaddingBytes;
      text_.reset(new char[static_cast<size_t>(text_capacity_bytes_)]);
    }
    data.file->ReadAt(range.begin, length, text_.get());
    std::memset(text_.get() + length, '\n', kTextPaddingBytes);
    cursor_ = text_.get();
    text_end_ = text_.get() + length;
    reader_ = source_->MakeReader(range.file_index, text_end_ + kTextPaddingBytes);
    bad_rows_.emplace(
        data.file->path(), text_.get(),
        [this, file_index = range.file_index, offset = range.begin] {
          return NewlinesBefore(file_index, offset);
        },
        source_->options().on_error, metrics_, &dead_letters_);
  }

  // The lines of file `file_index` before `offset`, counted forward from the last count (the
  // split's ranges come in file order), so that bad rows in many ranges cost one pass.
  int64_t NewlinesBefore(size_t file_index, int64_t offset) {
    if (file_index != counted_file_ || offset < counted_until_) {
      counted_file_ = file_index;
      counted_until_ = 0;
      counted_newlines_ = 0;
    }
    counted_newlines_ += source_->files()[file_index].file->CountNewlines(counted_until_, offset);
    counted_until_ = offset;
    return counted_newlines_;
  }

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
  // The text of ranges_[range_index_], kTextPaddingBytes of line ends after it.
  std::unique_ptr<char[]> text_;
  int64_t text_capacity_bytes_ = 0;
  const char* text_end_ = nullptr;
  const char* cursor_ = nullptr;
  size_t counted_file_ = 0;  // NewlinesBefore's last count
  int64_t counted_until_ = 0;
  int64_t counted_newlines_ = 0;
};

// Moves a position forward to the next line start (the byte after a '\n'), so that a split
// begins where a line does.
Position TextFileSource::Align(Position position) const {
  const FileData& data = files_[position.file_index];
  if (position.offset <= data.data_begin) return {position.file_index, data.data_begin};
  return {position.file_index, data.file->NextLineStart(position.offset)};
}

std::vector<ByteRange> TextFileSource::RangesBetween(Position from, Position to) const {
  std::vector<ByteRange> ranges;
  for (size_t file = from.file_index; file <= to.file_index; ++file) {
    const int64_t begin = file == from.file_index ? from.offset : files_[file].data_begin;
    const int64_t end = file == to.file_index ? to.offset : files_[file].file->size();
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
    sizes.push_back(std::max<int64_t>(0, data.file->size() - data.data_begin));
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
  boundaries.push_back({files_.size() - 1, files_.back().file->size()});
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

const std::vector<FileIdentity>& TextFileSource::Identities() const {
  return identities_.Get([this] {
    std::vector<FileIdentity> identities;
    for (const FileData& data : files_) {
      const InputFile& file = *data.file;
      const int64_t head = std::min(kFingerprintBytes, file.size());
      const int64_t tail = std::min(kFingerprintBytes, file.size() - head);
      std::string ends(static_cast<size_t>(head + tail), '\0');
      file.ReadAt(0, head, ends.data());
      file.ReadAt(file.size() - tail, tail, ends.data() + head);
      identities.push_back(FileIdentity{file.path(), file.size(), HashBytes(ends)});
    }
    return identities;
  });
}

// Deals the ranges the positions left over, block by block in the input's order, round-robin
// over the new splits: the blocks that were part-read are the earliest of a run whose splits
// kept pace (SplitAlignment), so they come first, and each split still reads its blocks in
// order. Block numbers stay those of the first run, so sinks order old and new rows alike.
std::vector<std::unique_ptr<SourceSplit>> TextFileSource::CreateSplitsAfter(
    const std::vector<std::string>& positions, int max_splits, OperatorMetrics* metrics) const {
  MS_CHECK(max_splits >= 1, "at least one split");
  std::map<int64_t, std::vector<ByteRange>> ranges_of_block;
  std::set<int64_t> blocks_of_earlier_splits;  // a block is read by one split at a time
  for (const std::string& position : positions) {
    PositionReader reader(position, kTextPositionTag, name_);
    CheckFileIdentities(Identities(), name_, &reader);
    const int64_t count = reader.GetInt();
    std::set<int64_t> blocks_of_split;
    for (int64_t i = 0; i < count; ++i) {
      ByteRange range;
      const int64_t file_index = reader.GetInt();
      range.begin = reader.GetInt();
      range.end = reader.GetInt();
      range.block = reader.GetInt();
      range.first_part = static_cast<uint64_t>(reader.GetInt());
      const bool fits = file_index >= 0 && file_index < static_cast<int64_t>(files_.size()) &&
                        range.begin >= 0 && range.begin <= range.end &&
                        range.end <= files_[static_cast<size_t>(file_index)].file->size() &&
                        range.block >= 0;
      if (!fits) {
        throw UserError(name_ + ": a checkpointed position holds a byte range outside the "
                        "files; the checkpoint is damaged (restore from another one)");
      }
      range.file_index = static_cast<size_t>(file_index);
      if (blocks_of_earlier_splits.contains(range.block)) {
        throw UserError(name_ + ": two checkpointed split positions both hold block " +
                        std::to_string(range.block) +
                        "; the checkpoint is damaged (restore from another one)");
      }
      blocks_of_split.insert(range.block);
      ranges_of_block[range.block].push_back(range);
    }
    reader.ExpectEnd();
    blocks_of_earlier_splits.insert(blocks_of_split.begin(), blocks_of_split.end());
  }
  const int64_t split_count = std::max<int64_t>(
      1, std::min<int64_t>(max_splits, static_cast<int64_t>(ranges_of_block.size())));
  std::vector<std::vector<ByteRange>> ranges_of_split(static_cast<size_t>(split_count));
  int64_t dealt = 0;
  for (auto& [block, ranges] : ranges_of_block) {
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) {
      return std::tie(a.file_index, a.begin) < std::tie(b.file_index, b.begin);
    });
    auto& split_ranges = ranges_of_split[static_cast<size_t>(dealt++ % split_count)];
    split_ranges.insert(split_ranges.end(), ranges.begin(), ranges.end());
  }
  std::vector<std::unique_ptr<SourceSplit>> splits;
  auto self = shared_from_this();
  for (auto& ranges : ranges_of_split) {
    splits.push_back(std::make_unique<TextFileSplit>(self, std::move(ranges), metrics));
  }
  return splits;
}

std::vector<std::shared_ptr<const InputFile>> OpenFiles(const std::string& path_or_glob) {
  std::vector<std::shared_ptr<const InputFile>> files;
  for (const std::string& path : ExpandFilePaths(path_or_glob)) {
    files.push_back(InputFile::Open(path));
  }
  return files;
}

class JsonlFileSource final : public TextFileSource {
 public:
  using TextFileSource::TextFileSource;
  std::unique_ptr<TextRowReader> MakeReader(size_t,
                                            const char* readable_end) const override {
    return MakeJsonlReader(specs(), readable_end);
  }
  // Keys of other columns are then skipped like keys the schema does not name.
  std::shared_ptr<Source> WithColumns(const std::vector<std::string>& columns) const override {
    auto narrowed = std::make_shared<JsonlFileSource>(*this);
    narrowed->Narrow(columns);
    return narrowed;
  }
};

class CsvFileSource final : public TextFileSource {
 public:
  CsvFileSource(std::string name, std::vector<std::shared_ptr<const InputFile>> files,
                SchemaPtr schema, SourceOptions options, CsvOptions csv)
      : TextFileSource(std::move(name), files, std::move(schema), options), csv_(csv) {
    for (size_t i = 0; i < files.size(); ++i) {
      layouts_.push_back(MakeCsvLayout(*files[i], specs(), csv_));
      SetDataBegin(i, layouts_.back().data_begin);
    }
  }
  std::unique_ptr<TextRowReader> MakeReader(size_t file_index,
                                            const char* readable_end) const override {
    return MakeCsvReader(specs(), layouts_[file_index], csv_.delimiter, readable_end);
  }
  // Fields of other columns are then skipped unparsed, as a header's extra columns are; rows
  // must still have every field.
  std::shared_ptr<Source> WithColumns(const std::vector<std::string>& columns) const override {
    auto narrowed = std::make_shared<CsvFileSource>(*this);
    const std::vector<int> new_index = narrowed->Narrow(columns);
    for (CsvLayout& layout : narrowed->layouts_) {
      for (int& target : layout.targets) {
        if (target >= 0) target = new_index[target];
      }
    }
    return narrowed;
  }

 private:
  CsvOptions csv_;
  std::vector<CsvLayout> layouts_;
};

}  // namespace

std::shared_ptr<Source> MakeJsonlSource(const std::string& path_or_glob, SchemaPtr schema,
                                        SourceOptions options) {
  auto files = OpenFiles(path_or_glob);
  if (!schema) schema = InferJsonlSchema(files, kInferenceRows);
  return std::make_shared<JsonlFileSource>("read_jsonl(" + path_or_glob + ")", std::move(files),
                                           std::move(schema), options);
}

std::shared_ptr<Source> MakeCsvSource(const std::string& path_or_glob, SchemaPtr schema,
                                      SourceOptions options, CsvOptions csv) {
  if (csv.delimiter == '"' || csv.delimiter == '\n' || csv.delimiter == '\r') {
    throw UserError("read_csv(" + path_or_glob + "): the delimiter cannot be a quote or a line end");
  }
  auto files = OpenFiles(path_or_glob);
  if (!schema) schema = InferCsvSchema(files, csv, kInferenceRows);
  return std::make_shared<CsvFileSource>("read_csv(" + path_or_glob + ")", std::move(files),
                                         std::move(schema), options, csv);
}

}  // namespace millstream
