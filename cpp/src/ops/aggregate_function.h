// An aggregate function (count, sum, min, ...) as the window and running aggregations use it:
// a fixed-size state inside a group's accumulator row, updated a whole batch at a time
// (vectorised over a group index per row), mergeable (sliding-window panes, session merges),
// serialisable (state written back to the StateBackend) and finalised into an Arrow builder.
//
// Every function ignores nulls (SQL); over no non-null value it yields null (count: 0).
// Updating and merging are exact and order-independent (float sums and means through
// ExactFloatSum) for everything but var and stddev, whose Welford states round in the order
// values arrive: at P > 1 their last digits can differ from run to run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <arrow/array.h>
#include <arrow/array/builder_base.h>
#include <arrow/type.h>

#include "ops/window_aggregate.h"

namespace millstream {

// group_of_row value of a row that updates no group (late, or handled elsewhere).
constexpr uint32_t kNoGroup = 0xffffffffu;

// What an update sees of a batch besides the input column.
struct UpdateRows {
  const uint32_t* group_of_row = nullptr;  // group index of each row of the batch, or kNoGroup
  int64_t begin = 0, end = 0;              // rows [begin, end) of the batch
  const int64_t* times_ms = nullptr;       // event time of each row; nullptr: none (by arrival)
  int64_t first_seq = 0;                   // arrival sequence number of row 0 of the batch
  int64_t* heap_bytes = nullptr;           // running total of bytes held outside the rows
};

// The states of all groups: group g's state starts at base + g * stride.
struct StateRows {
  uint8_t* base = nullptr;
  size_t stride = 0;
  uint8_t* at(uint32_t group) const { return base + static_cast<size_t>(group) * stride; }
};

class AggregateFunction {
 public:
  virtual ~AggregateFunction() = default;
  virtual std::shared_ptr<arrow::DataType> output_type() const = 0;
  // Bytes of the fixed-size state, a multiple of 8.
  virtual size_t state_bytes() const = 0;
  // States that own heap memory must be Destroyed; others are plain bytes.
  virtual bool owns_heap() const { return false; }
  virtual void Init(uint8_t* state) const;
  virtual void Destroy(uint8_t* state, int64_t* heap_bytes) const {}
  // `input` is nullptr for count of rows.
  virtual void Update(const arrow::Array* input, const UpdateRows& rows,
                      const StateRows& states) const = 0;
  // Adds `from` into `into`; `from` is left unchanged.
  virtual void Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const = 0;
  virtual void Serialize(const uint8_t* state, std::string* out) const;
  // Reads what Serialize wrote from the front of *in (and advances it) into an Init'ed state.
  virtual void Deserialize(std::string_view* in, uint8_t* state, int64_t* heap_bytes) const;
  // Appends the result (or null) to a builder made by arrow::MakeBuilder(output_type()).
  virtual void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const = 0;
};

// Checks the spec against the input schema (UserError / UserTypeError naming `operator_name`,
// the aggregate and the column) and returns its function.
std::unique_ptr<AggregateFunction> MakeAggregateFunction(const AggregateSpec& spec,
                                                         const arrow::Schema& input_schema,
                                                         const std::string& operator_name);

// Helpers shared by the function families.
namespace aggregate_detail {
void AppendBytes(std::string* out, const void* data, size_t size);
void ReadBytes(std::string_view* in, void* data, size_t size);
void AppendString(std::string* out, std::string_view value);
std::string_view ReadString(std::string_view* in);
}  // namespace aggregate_detail

// The families register their kinds here (one file each).
std::unique_ptr<AggregateFunction> MakeCountFunction(const AggregateSpec& spec,
                                                     const arrow::Schema& schema);
std::unique_ptr<AggregateFunction> MakeArithmeticFunction(const AggregateSpec& spec,
                                                          const arrow::DataType& type);
std::unique_ptr<AggregateFunction> MakeValueFunction(const AggregateSpec& spec,
                                                     const std::shared_ptr<arrow::DataType>& type);
std::unique_ptr<AggregateFunction> MakeCollectFunction(
    const AggregateSpec& spec, const std::shared_ptr<arrow::DataType>& type);

}  // namespace millstream
