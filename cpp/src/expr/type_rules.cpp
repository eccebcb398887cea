#include "expr/type_rules.h"

namespace millstream::expr {

TypeKind KindOf(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::NA: return TypeKind::kNull;
    case arrow::Type::BOOL: return TypeKind::kBool;
    case arrow::Type::INT8: case arrow::Type::INT16: case arrow::Type::INT32:
    case arrow::Type::INT64: case arrow::Type::UINT8: case arrow::Type::UINT16:
    case arrow::Type::UINT32: case arrow::Type::UINT64:
      return TypeKind::kInteger;
    case arrow::Type::HALF_FLOAT: case arrow::Type::FLOAT: case arrow::Type::DOUBLE:
      return TypeKind::kFloat;
    case arrow::Type::STRING: case arrow::Type::LARGE_STRING: case arrow::Type::STRING_VIEW:
      return TypeKind::kString;
    case arrow::Type::TIMESTAMP: return TypeKind::kTimestamp;
    default: return TypeKind::kOther;
  }
}

std::string TypeName(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::HALF_FLOAT: return "float16";
    case arrow::Type::FLOAT: return "float32";
    case arrow::Type::DOUBLE: return "float64";
    default: return type.ToString();
  }
}

std::shared_ptr<arrow::DataType> ComputeType(const std::shared_ptr<arrow::DataType>& type) {
  switch (KindOf(*type)) {
    case TypeKind::kInteger: return arrow::int64();
    case TypeKind::kFloat: return arrow::float64();
    case TypeKind::kString:
      return type->id() == arrow::Type::STRING_VIEW ? arrow::utf8() : type;
    default: return type;
  }
}

std::shared_ptr<arrow::DataType> ArithmeticType(const arrow::DataType& left, const arrow::DataType& right) {
  TypeKind left_kind = KindOf(left);
  TypeKind right_kind = KindOf(right);
  bool left_ok = IsNumeric(left_kind) || left_kind == TypeKind::kNull;
  bool right_ok = IsNumeric(right_kind) || right_kind == TypeKind::kNull;
  if (!left_ok || !right_ok) return nullptr;
  if (left_kind == TypeKind::kFloat || right_kind == TypeKind::kFloat) return arrow::float64();
  if (left_kind == TypeKind::kInteger || right_kind == TypeKind::kInteger) return arrow::int64();
  return arrow::null();
}

std::shared_ptr<arrow::DataType> CommonType(const std::shared_ptr<arrow::DataType>& left,
                                            const std::shared_ptr<arrow::DataType>& right) {
  auto left_compute = ComputeType(left);
  auto right_compute = ComputeType(right);
  if (left_compute->Equals(*right_compute)) return left_compute;
  TypeKind left_kind = KindOf(*left);
  TypeKind right_kind = KindOf(*right);
  if (left_kind == TypeKind::kNull) return right_compute;
  if (right_kind == TypeKind::kNull) return left_compute;
  if (IsNumeric(left_kind) && IsNumeric(right_kind)) return ArithmeticType(*left, *right);
  if (left_kind == TypeKind::kString && right_kind == TypeKind::kString) return arrow::large_utf8();
  return nullptr;
}

}  // namespace millstream::expr
