#include "ops/aggregate_function.h"

#include <cstring>

#include "core/error.h"
#include "core/types.h"

namespace millstream {

void AggregateFunction::Init(uint8_t* state) const { std::memset(state, 0, state_bytes()); }

void AggregateFunction::Serialize(const uint8_t* state, std::string* out) const {
  aggregate_detail::AppendBytes(out, state, state_bytes());
}

void AggregateFunction::Deserialize(std::string_view* in, uint8_t* state,
                                    int64_t* heap_bytes) const {
  aggregate_detail::ReadBytes(in, state, state_bytes());
}

namespace aggregate_detail {

void AppendBytes(std::string* out, const void* data, size_t size) {
  out->append(static_cast<const char*>(data), size);
}

void ReadBytes(std::string_view* in, void* data, size_t size) {
  MS_CHECK(in->size() >= size, "truncated aggregate state");
  std::memcpy(data, in->data(), size);
  in->remove_prefix(size);
}

void AppendString(std::string* out, std::string_view value) {
  uint32_t size = static_cast<uint32_t>(value.size());
  AppendBytes(out, &size, sizeof(size));
  out->append(value);
}

std::string_view ReadString(std::string_view* in) {
  uint32_t size = 0;
  ReadBytes(in, &size, sizeof(size));
  MS_CHECK(in->size() >= size, "truncated aggregate string");
  std::string_view value = in->substr(0, size);
  in->remove_prefix(size);
  return value;
}

}  // namespace aggregate_detail

namespace {

bool IsNumeric(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id()) ||
         type.id() == arrow::Type::BOOL;
}

bool IsValueType(const arrow::DataType& type) {
  return IsNumeric(type) || type.id() == arrow::Type::STRING ||
         type.id() == arrow::Type::LARGE_STRING || type.id() == arrow::Type::TIMESTAMP;
}

}  // namespace

std::unique_ptr<AggregateFunction> MakeAggregateFunction(const AggregateSpec& spec,
                                                         const arrow::Schema& input_schema,
                                                         const std::string& operator_name) {
  const std::string what = operator_name + ": aggregate '" + spec.output_name + "' (" +
                           spec.kind + ")";
  if (spec.kind == "count") return MakeCountFunction(spec, input_schema);
  static const char* kKinds[] = {"sum",  "min",  "max",   "mean",           "first",
                                 "last", "stddev", "var", "count_distinct", "collect_list"};
  bool known = false;
  for (const char* kind : kKinds) known = known || spec.kind == kind;
  if (!known) {
    throw UserError(what + ": unknown aggregate kind; use count, sum, min, max, mean, first, "
                           "last, count_distinct, stddev, var or collect_list");
  }
  if (spec.input_column < 0 || spec.input_column >= input_schema.num_fields()) {
    throw UserError(what + ": input column index " + std::to_string(spec.input_column) +
                    " is outside the input schema (" +
                    std::to_string(input_schema.num_fields()) + " columns)");
  }
  const auto& field = input_schema.field(spec.input_column);
  const auto& type = field->type();
  const std::string column = " column '" + field->name() + "' has type " + type->ToString();
  if (spec.kind != "first" && spec.kind != "last" && spec.kind != "count_distinct" &&
      spec.kind != "collect_list") {  // these compute nothing on the values
    RejectUint64Computation(*type, field->name(), what);
  }
  if (spec.kind == "sum" || spec.kind == "mean" || spec.kind == "stddev" || spec.kind == "var") {
    if (!IsNumeric(*type)) {
      throw UserTypeError(what + ":" + column + "; " + spec.kind +
                          " needs a numeric or bool column");
    }
    return MakeArithmeticFunction(spec, *type);
  }
  if (!IsValueType(*type)) {
    throw UserTypeError(what + ":" + column + "; " + spec.kind +
                        " needs a numeric, bool, string or timestamp column");
  }
  if (spec.kind == "count_distinct" || spec.kind == "collect_list") {
    return MakeCollectFunction(spec, type);
  }
  return MakeValueFunction(spec, type);
}

}  // namespace millstream
