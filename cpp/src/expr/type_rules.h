// How expression functions see types: a few kinds (integer, float, string, ...) with one compute
// type each, and the names users know (float64, not Arrow's "double").
#pragma once

#include <memory>
#include <string>

#include <arrow/type.h>

namespace millstream::expr {

enum class TypeKind { kNull, kBool, kInteger, kFloat, kString, kTimestamp, kOther };

TypeKind KindOf(const arrow::DataType& type);

inline bool IsNumeric(TypeKind kind) { return kind == TypeKind::kInteger || kind == TypeKind::kFloat; }

// "int64", "float64", "bool", "string", "timestamp[us, tz=UTC]" (the spelling of ParseType).
std::string TypeName(const arrow::DataType& type);

// The type an argument of this kind is computed in: every integer as int64, every float as
// float64, string_view as string; other types unchanged.
std::shared_ptr<arrow::DataType> ComputeType(const std::shared_ptr<arrow::DataType>& type);

// The type both sides are computed in for arithmetic: int64 if both are integers (or untyped
// null), float64 if either is a float; nullptr if either is not a number or null. null+null is null.
std::shared_ptr<arrow::DataType> ArithmeticType(const arrow::DataType& left, const arrow::DataType& right);

// The one type values of these two types are merged into (fill_null, when): equal types, a
// number pair (float64 wins), or null with anything; nullptr if there is none.
std::shared_ptr<arrow::DataType> CommonType(const std::shared_ptr<arrow::DataType>& left,
                                            const std::shared_ptr<arrow::DataType>& right);

}  // namespace millstream::expr
