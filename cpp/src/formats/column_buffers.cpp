#include "formats/column_buffers.h"

#include <algorithm>

#include <arrow/array.h>
#include <arrow/memory_pool.h>
#include <arrow/util/key_value_metadata.h>

#include "core/error.h"
#include "core/recycling_pool.h"

namespace millstream {

namespace {

std::shared_ptr<arrow::ResizableBuffer> AllocateBytes(int64_t size_bytes) {
  return CheckArrow(arrow::AllocateResizableBuffer(size_bytes, EnginePool()), "allocating a column buffer");
}

// Packs one byte per row (0 or 1) into an Arrow bitmap.
std::shared_ptr<arrow::Buffer> PackBits(const uint8_t* bytes, int64_t rows) {
  auto bitmap = CheckArrow(arrow::AllocateBuffer((rows + 7) / 8, EnginePool()), "allocating a bitmap");
  uint8_t* out = bitmap->mutable_data();
  int64_t row = 0;
  for (; row + 8 <= rows; row += 8) {
    out[row / 8] = static_cast<uint8_t>(bytes[row] | bytes[row + 1] << 1 | bytes[row + 2] << 2 |
                                        bytes[row + 3] << 3 | bytes[row + 4] << 4 |
                                        bytes[row + 5] << 5 | bytes[row + 6] << 6 |
                                        bytes[row + 7] << 7);
  }
  if (row < rows) {
    uint8_t last = 0;
    for (int bit = 0; row + bit < rows; ++bit) last |= static_cast<uint8_t>(bytes[row + bit] << bit);
    out[row / 8] = last;
  }
  return std::shared_ptr<arrow::Buffer>(std::move(bitmap));
}

}  // namespace

std::vector<ColumnSpec> ColumnSpecsOf(const arrow::Schema& schema, const std::string& source) {
  std::vector<ColumnSpec> specs;
  for (const auto& field : schema.fields()) {
    ColumnSpec spec;
    spec.name = field->name();
    spec.required = !field->nullable();
    switch (field->type()->id()) {
      case arrow::Type::INT64: spec.kind = ColumnKind::kInt64; break;
      case arrow::Type::DOUBLE: spec.kind = ColumnKind::kFloat64; break;
      case arrow::Type::BOOL: spec.kind = ColumnKind::kBool; break;
      case arrow::Type::STRING: spec.kind = ColumnKind::kString; break;
      case arrow::Type::TIMESTAMP:
        spec.kind = ColumnKind::kTimestamp;
        spec.unit = static_cast<const arrow::TimestampType&>(*field->type()).unit();
        spec.integers_refused =
            field->metadata() != nullptr && field->metadata()->Contains(kUnitNotGivenKey);
        break;
      default:
        throw UserError(source + ": field '" + field->name() + "' has type " +
                        field->type()->ToString() +
                        ", which text files cannot hold (use int64, float64, bool, string or "
                        "timestamp)");
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

const char* KindName(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kInt64: return "int64";
    case ColumnKind::kFloat64: return "float64";
    case ColumnKind::kBool: return "bool";
    case ColumnKind::kString: return "string";
    case ColumnKind::kTimestamp: return "timestamp";
  }
  return "?";
}

ColumnBuffers::ColumnBuffers(SchemaPtr schema, std::vector<ColumnSpec> specs, int64_t capacity_rows)
    : schema_(std::move(schema)), specs_(std::move(specs)), capacity_rows_(capacity_rows) {
  MS_CHECK(capacity_rows_ > 0, "a batch holds at least one row");
  MS_CHECK(static_cast<int>(specs_.size()) == schema_->num_fields(), "one spec per field");
  columns_.resize(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) Allocate(columns_[i], specs_[i]);
}

void ColumnBuffers::Allocate(Column& column, const ColumnSpec& spec) {
  column.valid.resize(capacity_rows_);
  switch (spec.kind) {
    case ColumnKind::kInt64:
    case ColumnKind::kTimestamp:
      column.values = AllocateBytes(capacity_rows_ * 8);
      column.int64_values = reinterpret_cast<int64_t*>(column.values->mutable_data());
      break;
    case ColumnKind::kFloat64:
      column.values = AllocateBytes(capacity_rows_ * 8);
      column.float64_values = reinterpret_cast<double*>(column.values->mutable_data());
      break;
    case ColumnKind::kBool:
      column.bool_values.resize(capacity_rows_);
      break;
    case ColumnKind::kString: {
      column.values = AllocateBytes((capacity_rows_ + 1) * 4);
      column.offsets = reinterpret_cast<int32_t*>(column.values->mutable_data());
      column.offsets[0] = 0;
      // Start small: most batches hold short strings, and GrowChars doubles when needed.
      column.chars_capacity = std::min<int64_t>(capacity_rows_ * 16, int64_t{1} << 20);
      column.chars_buffer = AllocateBytes(column.chars_capacity);
      column.chars = reinterpret_cast<char*>(column.chars_buffer->mutable_data());
      break;
    }
  }
}

void ColumnBuffers::GrowChars(Column& column, int64_t needed_bytes) {
  if (needed_bytes > INT32_MAX) {
    throw UserError("a batch holds more than 2 GiB of text in one string column: use a smaller "
                    "batch_size");
  }
  const int64_t capacity = std::min<int64_t>(std::max(needed_bytes, column.chars_capacity * 2),
                                             INT32_MAX);
  CheckArrow(column.chars_buffer->Resize(capacity, /*shrink_to_fit=*/false), "growing a string column");
  column.chars = reinterpret_cast<char*>(column.chars_buffer->mutable_data());
  column.chars_capacity = capacity;
}

void ColumnBuffers::CommitRow() {
  MS_CHECK(rows_ < capacity_rows_, "a reader wrote past the batch capacity");
  ++rows_;
}

std::shared_ptr<arrow::Array> ColumnBuffers::FinishColumn(Column& column, const ColumnSpec& spec,
                                                          int index) {
  const int64_t rows = rows_;
  // A batch far below capacity (the end of a split, a small file) gives back the unused part.
  const bool shrink = rows * 4 < capacity_rows_;
  const int64_t valid_rows = std::count(column.valid.begin(), column.valid.begin() + rows, 1);
  const int64_t null_count = rows - valid_rows;
  std::shared_ptr<arrow::Buffer> validity =
      null_count > 0 ? PackBits(column.valid.data(), rows) : nullptr;
  const auto& type = schema_->field(index)->type();
  std::shared_ptr<arrow::ArrayData> data;
  switch (spec.kind) {
    case ColumnKind::kInt64:
    case ColumnKind::kTimestamp:
    case ColumnKind::kFloat64:
      CheckArrow(column.values->Resize(rows * 8, shrink), "sizing a column");
      data = arrow::ArrayData::Make(type, rows, {validity, column.values}, null_count);
      break;
    case ColumnKind::kBool:
      data = arrow::ArrayData::Make(type, rows, {validity, PackBits(column.bool_values.data(), rows)},
                                    null_count);
      break;
    case ColumnKind::kString:
      const int64_t chars_bytes = column.offsets[rows];
      CheckArrow(column.values->Resize((rows + 1) * 4, shrink), "sizing offsets");
      CheckArrow(column.chars_buffer->Resize(chars_bytes, shrink || chars_bytes * 4 < column.chars_capacity),
                 "sizing string data");
      data = arrow::ArrayData::Make(type, rows, {validity, column.values, column.chars_buffer},
                                    null_count);
      break;
  }
  // The buffers now belong to the array; the next batch gets new ones.
  column.values.reset();
  column.chars_buffer.reset();
  Allocate(column, spec);
  return arrow::MakeArray(data);
}

BatchPtr ColumnBuffers::Finish() {
  if (rows_ == 0) return nullptr;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  arrays.reserve(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    arrays.push_back(FinishColumn(columns_[i], specs_[i], static_cast<int>(i)));
  }
  BatchPtr batch = arrow::RecordBatch::Make(schema_, rows_, std::move(arrays));
  rows_ = 0;
  return batch;
}

}  // namespace millstream
