// Records travel as Arrow record batches: typed columns in Arrow's memory layout, shared
// immutably between operators (a fan-out shares the pointer, never copies the data).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>

#include <arrow/record_batch.h>
#include <arrow/type.h>

namespace millstream {

using BatchPtr = std::shared_ptr<arrow::RecordBatch>;
using SchemaPtr = std::shared_ptr<arrow::Schema>;

// Event time in the engine is int64 epoch milliseconds.
constexpr int64_t kMinWatermarkMs = std::numeric_limits<int64_t>::min();
constexpr int64_t kFinalWatermarkMs = std::numeric_limits<int64_t>::max();  // end of bounded input

constexpr int64_t kDefaultBatchSize = 65536;

}  // namespace millstream
