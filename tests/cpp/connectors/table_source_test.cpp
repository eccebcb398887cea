#include "connectors/table_source.h"

#include <gtest/gtest.h>

#include <arrow/builder.h>
#include <arrow/table.h>

namespace millstream {
namespace {

std::shared_ptr<arrow::Table> Numbers(int64_t rows) {
  arrow::Int64Builder builder;
  for (int64_t i = 0; i < rows; ++i) EXPECT_TRUE(builder.Append(i).ok());
  auto array = builder.Finish().ValueOrDie();
  return arrow::Table::Make(arrow::schema({arrow::field("x", arrow::int64())}), {array});
}

// Every row exactly once, in order, for any number of rows, splits and batch size.
TEST(TableSource, SplitsCoverEveryRowOnceInOrder) {
  for (int64_t rows : {0, 1, 2, 5, 7, 64, 1000}) {
    for (int max_splits : {1, 2, 3, 4, 7}) {
      for (int64_t batch_size : {1, 3, 64, 65536}) {
        OperatorMetrics metrics("from_arrow");
        auto source = MakeTableSource(Numbers(rows), "from_arrow", batch_size);
        auto splits = source->CreateSplits(max_splits, &metrics);
        ASSERT_LE(static_cast<int>(splits.size()), max_splits);
        int64_t expected = 0;
        for (auto& split : splits) {
          for (SplitOutput out = split->Next(); !out.end; out = split->Next()) {
            ASSERT_LE(out.rows->num_rows(), batch_size);
            auto values = std::static_pointer_cast<arrow::Int64Array>(out.rows->column(0));
            for (int64_t i = 0; i < values->length(); ++i) ASSERT_EQ(values->Value(i), expected++);
          }
        }
        EXPECT_EQ(expected, rows) << rows << " rows, " << max_splits << " splits, batch " << batch_size;
        EXPECT_EQ(metrics.rows_out.load(), rows);
      }
    }
  }
}

}  // namespace
}  // namespace millstream
