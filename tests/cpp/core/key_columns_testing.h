// Helpers for the key tests (encoding, key groups): typed arrays written as JSON, and batches of
// key columns.
#pragma once

#include <memory>
#include <string>

#include <arrow/api.h>
#include <arrow/json/from_string.h>

#include "core/error.h"

namespace millstream::testing {

inline std::shared_ptr<arrow::Array> ArrayOf(const std::shared_ptr<arrow::DataType>& type,
                                             const std::string& json) {
  return CheckArrow(arrow::json::ArrayFromJSONString(type, json), "test array");
}

// A batch of `columns`, named k0, k1, ...
inline std::shared_ptr<arrow::RecordBatch> BatchOf(const arrow::ArrayVector& columns) {
  arrow::FieldVector fields;
  for (size_t i = 0; i < columns.size(); ++i) {
    fields.push_back(arrow::field("k" + std::to_string(i), columns[i]->type()));
  }
  return arrow::RecordBatch::Make(arrow::schema(fields), columns[0]->length(), columns);
}

}  // namespace millstream::testing
