#include "connectors/table_source.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <string>

#include "core/error.h"

namespace millstream {

namespace {

// How far an earlier run read each block of the table (a restored run's splits start there):
// rows taken from its start and the chunks they came in (so chunk positions go on from there).
struct BlockProgress {
  int64_t rows_taken = 0;
  int64_t parts = 0;
};
using TableProgress = std::map<int64_t, BlockProgress>;  // blocks not listed: none taken

// Reads blocks first, first + stride, first + 2 stride, ... of `batch_size` rows each. A block
// whose rows span several chunks of the table comes out as several batches (no copies).
class TableSplit final : public SourceSplit {
 public:
  TableSplit(std::shared_ptr<arrow::Table> table, int64_t first_block, int64_t stride,
             int64_t batch_size, OperatorMetrics* metrics,
             std::shared_ptr<const TableProgress> progress)
      : table_(std::move(table)),
        first_block_(first_block),
        next_block_(first_block),
        stride_(stride),
        batch_size_(batch_size),
        metrics_(metrics),
        progress_(std::move(progress)) {}

  SplitOutput Next() override {
    SplitOutput output;
    while (!output.rows) {
      if (!reader_) {
        const int64_t offset = next_block_ * batch_size_;
        if (offset >= table_->num_rows()) {
          output.end = true;
          return output;
        }
        BlockProgress start;
        if (progress_) {
          auto it = progress_->find(next_block_);
          if (it != progress_->end()) start = it->second;
        }
        block_index_ = next_block_;
        next_block_ += stride_;
        const int64_t block_rows = std::min(batch_size_, table_->num_rows() - offset);
        if (start.rows_taken >= block_rows) continue;  // read whole before the checkpoint
        block_ = table_->Slice(offset + start.rows_taken, block_rows - start.rows_taken);
        reader_ = std::make_unique<arrow::TableBatchReader>(*block_);
        rows_taken_ = start.rows_taken;
        part_ = start.parts;
      }
      output.rows = CheckArrow(reader_->Next(), "reading an in-memory table");
      if (!output.rows) reader_.reset();
    }
    output.position = ChunkPosition(block_index_, part_++);
    rows_taken_ += output.rows->num_rows();
    metrics_->rows_out += output.rows->num_rows();
    return output;
  }

  // "table <rows> <batch_size> <first block> <stride> <next block> <block being read, or -1>
  // <its rows taken> <its chunks>"
  std::string Position() const override {
    const bool reading = reader_ != nullptr;
    return "table " + std::to_string(table_->num_rows()) + " " + std::to_string(batch_size_) + " " +
           std::to_string(first_block_) + " " + std::to_string(stride_) + " " +
           std::to_string(next_block_) + " " + std::to_string(reading ? block_index_ : -1) + " " +
           std::to_string(reading ? rows_taken_ : 0) + " " + std::to_string(reading ? part_ : 0);
  }

 private:
  std::shared_ptr<arrow::Table> table_;
  const int64_t first_block_;
  int64_t next_block_;
  const int64_t stride_;
  const int64_t batch_size_;
  OperatorMetrics* metrics_;
  std::shared_ptr<const TableProgress> progress_;  // null: a fresh run
  std::shared_ptr<arrow::Table> block_;  // the rows reader_ reads
  int64_t block_index_ = 0;              // block_'s
  int64_t part_ = 0;                     // the next chunk's place in block_
  int64_t rows_taken_ = 0;               // rows of block_'s block returned so far
  std::unique_ptr<arrow::TableBatchReader> reader_;
};

class TableSource final : public Source {
 public:
  TableSource(std::shared_ptr<arrow::Table> table, std::string name, int64_t batch_size,
              bool single_split)
      : table_(std::move(table)), name_(std::move(name)), batch_size_(batch_size),
        single_split_(single_split) {}
  SchemaPtr schema() const override { return table_->schema(); }
  std::string name() const override { return name_; }
  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                         OperatorMetrics* metrics) const override {
    return MakeSplits(max_splits, metrics, nullptr);
  }
  // The blocks dealt as in a fresh run (over this run's splits), each started where the
  // earlier run's split that owned it had got to.
  std::vector<std::unique_ptr<SourceSplit>> CreateSplitsAfter(
      const std::vector<std::string>& positions, int max_splits,
      OperatorMetrics* metrics) const override {
    auto progress = std::make_shared<TableProgress>();
    for (const std::string& position : positions) ReadPosition(position, progress.get());
    return MakeSplits(max_splits, metrics, std::move(progress));
  }

 private:
  int64_t BlockRows(int64_t block) const {
    return std::min(batch_size_, table_->num_rows() - block * batch_size_);
  }

  std::vector<std::unique_ptr<SourceSplit>> MakeSplits(
      int max_splits, OperatorMetrics* metrics, std::shared_ptr<const TableProgress> progress) const {
    // Blocks of one batch dealt round-robin (source.h: interleaved splits); small inputs stay
    // in one split, and in order.
    const int64_t blocks = (table_->num_rows() + batch_size_ - 1) / batch_size_;
    const int64_t splits =
        single_split_ ? 1 : std::max<int64_t>(1, std::min<int64_t>(max_splits, blocks));
    std::vector<std::unique_ptr<SourceSplit>> result;
    for (int64_t index = 0; index < splits; ++index) {
      result.push_back(std::make_unique<TableSplit>(table_, index, splits, batch_size_, metrics, progress));
    }
    return result;
  }

  // Adds what one earlier split had read: its blocks before the one it was reading whole, that
  // one as far as it got, later ones not at all.
  void ReadPosition(const std::string& position, TableProgress* progress) const {
    std::istringstream in(position);
    std::string kind;
    int64_t rows = 0, batch_size = 0, first = 0, stride = 0, next = 0, reading = 0, taken = 0,
            parts = 0;
    if (!(in >> kind >> rows >> batch_size >> first >> stride >> next >> reading >> taken >> parts) ||
        kind != "table" || stride < 1 || first < 0) {
      throw UserError(name_ + ": the checkpoint's position '" + position +
                      "' is not one of an in-memory table; restore it with the pipeline that took it");
    }
    if (rows != table_->num_rows() || batch_size != batch_size_) {
      throw UserError(name_ + ": the checkpoint was taken over " + std::to_string(rows) +
                      " rows in batches of " + std::to_string(batch_size) + ", this run has " +
                      std::to_string(table_->num_rows()) + " rows in batches of " +
                      std::to_string(batch_size_) + ": restore with the same data and batch_size");
    }
    for (int64_t block = first; block < next; block += stride) {
      (*progress)[block] = block == reading ? BlockProgress{taken, parts}
                                            : BlockProgress{BlockRows(block), 0};
    }
  }

  std::shared_ptr<arrow::Table> table_;
  std::string name_;
  int64_t batch_size_;
  bool single_split_;
};

}  // namespace

std::shared_ptr<Source> MakeTableSource(std::shared_ptr<arrow::Table> table, std::string name,
                                        int64_t batch_size, bool single_split) {
  MS_CHECK(batch_size > 0, "batch_size must be positive");
  return std::make_shared<TableSource>(std::move(table), std::move(name), batch_size, single_split);
}

}  // namespace millstream
