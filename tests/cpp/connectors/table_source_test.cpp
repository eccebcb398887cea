#include "connectors/table_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

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

// Every row exactly once for any number of rows, splits and batch size; blocks of one batch
// dealt round-robin (split k reads rows [b * batch, (b + 1) * batch) for b = k, k + n, ...), so
// one split reads the table in order.
TEST(TableSource, SplitsTakeTurnsAtBlocksOfOneBatch) {
  for (int64_t rows : {0, 1, 2, 5, 7, 64, 1000}) {
    for (int max_splits : {1, 2, 3, 4, 7}) {
      for (int64_t batch_size : {1, 3, 64, 65536}) {
        SCOPED_TRACE(std::to_string(rows) + " rows, " + std::to_string(max_splits) + " splits, batch " +
                     std::to_string(batch_size));
        OperatorMetrics metrics("from_arrow");
        auto source = MakeTableSource(Numbers(rows), "from_arrow", batch_size);
        auto splits = source->CreateSplits(max_splits, &metrics);
        ASSERT_LE(static_cast<int>(splits.size()), max_splits);
        const int64_t n = static_cast<int64_t>(splits.size());
        for (int64_t k = 0; k < n; ++k) {
          std::vector<int64_t> expected;
          for (int64_t block = k; block * batch_size < rows; block += n) {
            for (int64_t row = block * batch_size; row < std::min(rows, (block + 1) * batch_size); ++row) {
              expected.push_back(row);
            }
          }
          std::vector<int64_t> got;
          for (SplitOutput out = splits[k]->Next(); !out.end; out = splits[k]->Next()) {
            ASSERT_LE(out.rows->num_rows(), batch_size);
            auto values = std::static_pointer_cast<arrow::Int64Array>(out.rows->column(0));
            for (int64_t i = 0; i < values->length(); ++i) got.push_back(values->Value(i));
          }
          EXPECT_EQ(got, expected) << "split " << k;
        }
        EXPECT_EQ(metrics.rows_out.load(), rows);
      }
    }
  }
}

}  // namespace
}  // namespace millstream
