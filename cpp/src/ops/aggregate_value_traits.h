// How an aggregate reads one value of a typed Arrow column and keeps it in its state: one
// traits struct per physical kind (numbers and timestamps, bools, strings), so min/max/first/
// last/count_distinct/collect_list are each written once.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/type_traits.h>
#include <arrow/util/bit_util.h>

#include "core/error.h"
#include "ops/aggregate_function.h"

namespace millstream::aggregate_detail {

// Calls f(row, group) for each row in [rows.begin, rows.end) with a group and a non-null value.
template <typename F>
inline void ForEachValid(const arrow::Array& input, const UpdateRows& rows, F&& f) {
  const uint32_t* group_of_row = rows.group_of_row;
  const uint8_t* validity = input.null_bitmap_data();
  if (validity == nullptr || input.null_count() == 0) {
    for (int64_t i = rows.begin; i < rows.end; ++i) {
      uint32_t group = group_of_row[i];
      if (group != kNoGroup) f(i, group);
    }
    return;
  }
  const int64_t offset = input.offset();
  for (int64_t i = rows.begin; i < rows.end; ++i) {
    uint32_t group = group_of_row[i];
    if (group != kNoGroup && arrow::bit_util::GetBit(validity, offset + i)) f(i, group);
  }
}

// Numbers and timestamps: the value itself lives in the state.
template <typename ArrowType>
struct NumericValue {
  using ArrayType = arrow::NumericArray<ArrowType>;
  using BuilderType = arrow::NumericBuilder<ArrowType>;
  using CType = typename ArrowType::c_type;
  using Stored = CType;
  using View = CType;
  static constexpr bool kOwnsHeap = false;

  static View Get(const ArrayType& array, int64_t row) { return array.Value(row); }
  // A total order: SQL puts NaN above every number, so min/max do not depend on input order.
  static bool Less(View a, View b) {
    if constexpr (std::is_floating_point_v<CType>) {
      if (std::isnan(a)) return false;
      if (std::isnan(b)) return true;
    }
    return a < b;
  }
  static bool Equal(View a, View b) { return !Less(a, b) && !Less(b, a); }
  static void Set(Stored* stored, View value, int64_t* heap_bytes) { *stored = value; }
  static View ViewOf(const Stored& stored) { return stored; }
  static void Release(Stored* stored, int64_t* heap_bytes) {}
  static void Append(arrow::ArrayBuilder* builder, View value) {
    CheckArrow(static_cast<BuilderType*>(builder)->Append(value), "aggregate output");
  }
  static void Write(std::string* out, const Stored& stored) {
    AppendBytes(out, &stored, sizeof(stored));
  }
  static void Read(std::string_view* in, Stored* stored, int64_t* heap_bytes) {
    ReadBytes(in, stored, sizeof(*stored));
  }
};

struct BoolValue {
  using ArrayType = arrow::BooleanArray;
  using BuilderType = arrow::BooleanBuilder;
  using Stored = uint8_t;
  using View = bool;
  static constexpr bool kOwnsHeap = false;

  static View Get(const ArrayType& array, int64_t row) { return array.Value(row); }
  static bool Less(View a, View b) { return !a && b; }
  static bool Equal(View a, View b) { return a == b; }
  static void Set(Stored* stored, View value, int64_t* heap_bytes) { *stored = value; }
  static View ViewOf(const Stored& stored) { return stored != 0; }
  static void Release(Stored* stored, int64_t* heap_bytes) {}
  static void Append(arrow::ArrayBuilder* builder, View value) {
    CheckArrow(static_cast<BuilderType*>(builder)->Append(value), "aggregate output");
  }
  static void Write(std::string* out, const Stored& stored) { out->push_back(char(stored)); }
  static void Read(std::string_view* in, Stored* stored, int64_t* heap_bytes) {
    ReadBytes(in, stored, 1);
  }
};

// Strings: the state holds an owned copy on the heap (rows move in memory; a std::string
// inside a row would not survive that).
template <typename ArrowType>
struct StringValue {
  using ArrayType = typename arrow::TypeTraits<ArrowType>::ArrayType;
  using BuilderType = typename arrow::TypeTraits<ArrowType>::BuilderType;
  using Stored = std::string*;
  using View = std::string_view;
  static constexpr bool kOwnsHeap = true;
  static constexpr int64_t kOverheadBytes = sizeof(std::string) + 16;

  static View Get(const ArrayType& array, int64_t row) { return array.GetView(row); }
  static bool Less(View a, View b) { return a < b; }
  static bool Equal(View a, View b) { return a == b; }
  static void Set(Stored* stored, View value, int64_t* heap_bytes) {
    if (*stored == nullptr) {
      *stored = new std::string(value);
      *heap_bytes += kOverheadBytes + static_cast<int64_t>((*stored)->capacity());
      return;
    }
    int64_t before = static_cast<int64_t>((*stored)->capacity());
    (*stored)->assign(value);
    *heap_bytes += static_cast<int64_t>((*stored)->capacity()) - before;
  }
  static View ViewOf(const Stored& stored) { return *stored; }
  static void Release(Stored* stored, int64_t* heap_bytes) {
    if (*stored == nullptr) return;
    *heap_bytes -= kOverheadBytes + static_cast<int64_t>((*stored)->capacity());
    delete *stored;
    *stored = nullptr;
  }
  static void Append(arrow::ArrayBuilder* builder, View value) {
    CheckArrow(static_cast<BuilderType*>(builder)->Append(value), "aggregate output");
  }
  static void Write(std::string* out, const Stored& stored) { AppendString(out, *stored); }
  static void Read(std::string_view* in, Stored* stored, int64_t* heap_bytes) {
    Set(stored, ReadString(in), heap_bytes);
  }
};

// Calls visit(Traits{}) with the traits of `type` (numeric, bool, string, timestamp).
template <typename Visitor>
auto VisitValueTraits(const arrow::DataType& type, Visitor&& visit) {
  switch (type.id()) {
    case arrow::Type::INT8: return visit(NumericValue<arrow::Int8Type>{});
    case arrow::Type::INT16: return visit(NumericValue<arrow::Int16Type>{});
    case arrow::Type::INT32: return visit(NumericValue<arrow::Int32Type>{});
    case arrow::Type::INT64: return visit(NumericValue<arrow::Int64Type>{});
    case arrow::Type::UINT8: return visit(NumericValue<arrow::UInt8Type>{});
    case arrow::Type::UINT16: return visit(NumericValue<arrow::UInt16Type>{});
    case arrow::Type::UINT32: return visit(NumericValue<arrow::UInt32Type>{});
    case arrow::Type::UINT64: return visit(NumericValue<arrow::UInt64Type>{});
    case arrow::Type::FLOAT: return visit(NumericValue<arrow::FloatType>{});
    case arrow::Type::DOUBLE: return visit(NumericValue<arrow::DoubleType>{});
    case arrow::Type::TIMESTAMP: return visit(NumericValue<arrow::TimestampType>{});
    case arrow::Type::BOOL: return visit(BoolValue{});
    case arrow::Type::STRING: return visit(StringValue<arrow::StringType>{});
    case arrow::Type::LARGE_STRING: return visit(StringValue<arrow::LargeStringType>{});
    default: break;
  }
  FailInternal(__FILE__, __LINE__, "value type", "unsupported aggregate input " + type.ToString());
}

}  // namespace millstream::aggregate_detail
