#include "connectors/table_source.h"

#include <algorithm>

#include "core/error.h"

namespace millstream {

namespace {

// Reads blocks first, first + stride, first + 2 stride, ... of `batch_size` rows each. A block
// whose rows span several chunks of the table comes out as several batches (no copies).
class TableSplit final : public SourceSplit {
 public:
  TableSplit(std::shared_ptr<arrow::Table> table, int64_t first_block, int64_t stride,
             int64_t batch_size, OperatorMetrics* metrics)
      : table_(std::move(table)),
        next_block_(first_block),
        stride_(stride),
        batch_size_(batch_size),
        metrics_(metrics) {}

  SplitOutput Next() override {
    SplitOutput output;
    while (!output.rows) {
      if (!reader_) {
        const int64_t offset = next_block_ * batch_size_;
        if (offset >= table_->num_rows()) {
          output.end = true;
          return output;
        }
        block_ = table_->Slice(offset, batch_size_);
        reader_ = std::make_unique<arrow::TableBatchReader>(*block_);
        block_index_ = next_block_;
        part_ = 0;
        next_block_ += stride_;
      }
      output.rows = CheckArrow(reader_->Next(), "reading an in-memory table");
      if (!output.rows) reader_.reset();
    }
    output.position = ChunkPosition(block_index_, part_++);
    metrics_->rows_out += output.rows->num_rows();
    return output;
  }

 private:
  std::shared_ptr<arrow::Table> table_;
  int64_t next_block_;
  const int64_t stride_;
  const int64_t batch_size_;
  OperatorMetrics* metrics_;
  std::shared_ptr<arrow::Table> block_;  // the rows reader_ reads
  int64_t block_index_ = 0;              // block_'s
  int64_t part_ = 0;                     // the next chunk's place in block_
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
    // Blocks of one batch dealt round-robin (source.h: interleaved splits); small inputs stay
    // in one split, and in order.
    const int64_t blocks = (table_->num_rows() + batch_size_ - 1) / batch_size_;
    const int64_t splits =
        single_split_ ? 1 : std::max<int64_t>(1, std::min<int64_t>(max_splits, blocks));
    std::vector<std::unique_ptr<SourceSplit>> result;
    for (int64_t index = 0; index < splits; ++index) {
      result.push_back(std::make_unique<TableSplit>(table_, index, splits, batch_size_, metrics));
    }
    return result;
  }

 private:
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
