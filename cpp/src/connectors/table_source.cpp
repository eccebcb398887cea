#include "connectors/table_source.h"

#include <algorithm>

#include "core/error.h"

namespace millstream {

namespace {

class TableSplit final : public SourceSplit {
 public:
  TableSplit(std::shared_ptr<arrow::Table> slice, int64_t batch_size, OperatorMetrics* metrics)
      : reader_(*slice), slice_(std::move(slice)), metrics_(metrics) {
    reader_.set_chunksize(batch_size);
  }
  SplitOutput Next() override {
    SplitOutput output;
    output.rows = CheckArrow(reader_.Next(), "reading an in-memory table");
    if (!output.rows) {
      output.end = true;
    } else {
      metrics_->rows_out += output.rows->num_rows();
    }
    return output;
  }

 private:
  arrow::TableBatchReader reader_;
  std::shared_ptr<arrow::Table> slice_;  // keeps the reader's table alive
  OperatorMetrics* metrics_;
};

class TableSource final : public Source {
 public:
  TableSource(std::shared_ptr<arrow::Table> table, std::string name, int64_t batch_size)
      : table_(std::move(table)), name_(std::move(name)), batch_size_(batch_size) {}
  SchemaPtr schema() const override { return table_->schema(); }
  std::string name() const override { return name_; }
  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                         OperatorMetrics* metrics) const override {
    const int64_t rows = table_->num_rows();
    // Slices of at least one batch, so small inputs stay in one split (and in order).
    const int64_t splits =
        std::max<int64_t>(1, std::min<int64_t>(max_splits, (rows + batch_size_ - 1) / batch_size_));
    const int64_t per_split = (rows + splits - 1) / std::max<int64_t>(splits, 1);
    std::vector<std::unique_ptr<SourceSplit>> result;
    for (int64_t index = 0; index < splits; ++index) {
      const int64_t offset = std::min(rows, index * per_split);
      const int64_t length = std::min(per_split, rows - offset);
      result.push_back(
          std::make_unique<TableSplit>(table_->Slice(offset, length), batch_size_, metrics));
    }
    return result;
  }

 private:
  std::shared_ptr<arrow::Table> table_;
  std::string name_;
  int64_t batch_size_;
};

}  // namespace

std::shared_ptr<Source> MakeTableSource(std::shared_ptr<arrow::Table> table, std::string name,
                                        int64_t batch_size) {
  MS_CHECK(batch_size > 0, "batch_size must be positive");
  return std::make_shared<TableSource>(std::move(table), std::move(name), batch_size);
}

}  // namespace millstream
