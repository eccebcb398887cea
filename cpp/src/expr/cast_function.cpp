// cast(type). Strict, like polars' default: a value the target type cannot hold ("abc" -> int64,
// 1e300 -> int64, NaN -> int64) raises a UserError naming the value and the expression instead of
// becoming null silently. Float -> int truncates toward zero. timestamp <-> int64 is the raw
// value in the timestamp's unit. string -> timestamp reads ISO 8601; a string with a zone offset
// is converted to UTC, one without is wall time in the target's time zone (UTC if it has none).
#include <cstring>
#include <sstream>

#include <arrow/array/array_binary.h>
#include <arrow/compute/cast.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/value_parsing.h>

#include "core/error.h"
#include "core/types.h"
#include "expr/function_registry.h"
#include "expr/kernel_support.h"
#include "expr/type_rules.h"

namespace millstream::expr {

namespace {

arrow::Datum CastOnUserData(const arrow::Datum& value, const arrow::compute::CastOptions& options,
                            const std::string& context) {
  EnsureComputeInitialized();
  auto result = arrow::compute::Cast(value, options);
  if (!result.ok()) throw UserError("cast failed in " + context + ": " + result.status().message());
  return std::move(result).ValueUnsafe();
}

std::string FormatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// float64 -> int64, truncating toward zero; NaN, inf and out-of-range values are errors.
arrow::Datum FloatToInt64(const arrow::Datum& value, const std::string& context) {
  const auto& data = *value.array();
  const double* in = data.GetValues<double>(1);
  const uint8_t* validity = data.GetNullCount() > 0 ? data.buffers[0]->data() : nullptr;
  auto out_buffer = AllocateBytes(data.length * 8);
  int64_t* out = out_buffer->mutable_data_as<int64_t>();
  int64_t first_bad = -1;
  for (int64_t i = 0; i < data.length; ++i) {
    double v = in[i];
    bool in_range = v >= -9.223372036854775808e18 && v < 9.223372036854775808e18;  // NaN fails
    out[i] = in_range ? static_cast<int64_t>(v) : 0;
    if (!in_range && first_bad < 0 && (!validity || arrow::bit_util::GetBit(validity, data.offset + i))) {
      first_bad = i;
    }
  }
  if (first_bad >= 0) {
    throw UserError("cast failed in " + context + ": " + FormatNumber(in[first_bad]) + " (row " +
                    std::to_string(first_bad) + ") does not fit in int64");
  }
  return MakeArray(arrow::int64(), data.length, ValidityAtZero(data), std::move(out_buffer));
}

template <typename StringArrayType>
arrow::Datum ParseTimestamps(const StringArrayType& strings,
                             const std::shared_ptr<arrow::DataType>& target, const std::string& context) {
  const auto& timestamp_type = static_cast<const arrow::TimestampType&>(*target);
  int64_t length = strings.length();
  auto out_buffer = AllocateBytes(length * 8);
  int64_t* out = out_buffer->mutable_data_as<int64_t>();
  std::vector<int64_t> wall_time_rows;  // rows without an offset, when the target has a zone
  for (int64_t i = 0; i < length; ++i) {
    out[i] = 0;
    if (strings.IsNull(i)) continue;
    std::string_view text = strings.GetView(i);
    bool offset_present = false;
    if (!arrow::internal::ParseTimestampISO8601(text.data(), text.size(), timestamp_type.unit(),
                                                &out[i], &offset_present)) {
      throw UserError("cast failed in " + context + ": '" + std::string(text) + "' (row " +
                      std::to_string(i) + ") is not an ISO 8601 timestamp for " + TypeName(*target));
    }
    if (!offset_present && !timestamp_type.timezone().empty()) wall_time_rows.push_back(i);
  }
  auto validity = ValidityAtZero(*strings.data());
  if (!wall_time_rows.empty()) {
    // Wall-clock times in the target zone: Arrow's assume_timezone resolves them (and rejects
    // times that do not exist or are ambiguous at a DST change).
    auto wall_validity = AllocateBitmap(length);
    for (int64_t row : wall_time_rows) arrow::bit_util::SetBit(wall_validity->mutable_data(), row);
    auto wall = MakeArray(arrow::timestamp(timestamp_type.unit()), length, wall_validity, out_buffer);
    arrow::compute::AssumeTimezoneOptions options(timestamp_type.timezone());
    arrow::Datum zoned = CallArrowOnUserData("assume_timezone", {wall}, &options, "cast failed in " + context);
    const int64_t* resolved = zoned.array()->GetValues<int64_t>(1);
    auto merged = AllocateBytes(length * 8);
    std::memcpy(merged->mutable_data(), out, length * 8);
    for (int64_t row : wall_time_rows) merged->mutable_data_as<int64_t>()[row] = resolved[row];
    out_buffer = merged;
  }
  return MakeArray(target, length, std::move(validity), std::move(out_buffer));
}

arrow::Datum StringToTimestamp(const arrow::Datum& value, const std::shared_ptr<arrow::DataType>& target,
                               const std::string& context) {
  auto array = value.make_array();
  if (array->type_id() == arrow::Type::LARGE_STRING) {
    return ParseTimestamps(static_cast<const arrow::LargeStringArray&>(*array), target, context);
  }
  return ParseTimestamps(static_cast<const arrow::StringArray&>(*array), target, context);
}

ResolvedCall ResolveCast(const CallSite& call) {
  call.ExpectArgCount(1);
  std::shared_ptr<arrow::DataType> target = ParseType(call.StringOption("type"));
  const auto& source = call.arg(0).type;
  TypeKind from = KindOf(*source);
  TypeKind to = KindOf(*target);
  std::string context = call.text();
  ResolvedCall resolved;
  resolved.output_type = target;
  auto fail = [&]() {
    throw UserTypeError("cannot cast " + call.arg(0).text + " (" + TypeName(*source) + ") to " +
                        TypeName(*target) + " in " + context);
  };
  if (source->Equals(*target)) {
    resolved.kernel = [](const std::vector<arrow::Datum>& args, int64_t) { return args[0]; };
  } else if (from == TypeKind::kNull) {
    resolved.kernel = [target](const std::vector<arrow::Datum>&, int64_t) -> arrow::Datum {
      return arrow::MakeNullScalar(target);
    };
  } else if (from == TypeKind::kTimestamp && to == TypeKind::kInteger) {
    resolved.kernel = [target, context](const std::vector<arrow::Datum>& args, int64_t) {
      arrow::Datum raw = Reinterpret(args[0], arrow::int64());
      if (target->id() == arrow::Type::INT64) return raw;
      return CastOnUserData(raw, arrow::compute::CastOptions::Safe(target), context);
    };
  } else if (from == TypeKind::kInteger && to == TypeKind::kTimestamp) {
    resolved.argument_types = {arrow::int64()};
    resolved.kernel = [target](const std::vector<arrow::Datum>& args, int64_t) {
      return Reinterpret(args[0], target);
    };
  } else if (from == TypeKind::kString && to == TypeKind::kTimestamp) {
    resolved.argument_types = {ComputeType(source)};
    resolved.kernel = [target, context](const std::vector<arrow::Datum>& args, int64_t) {
      return StringToTimestamp(args[0], target, context);
    };
  } else if (from == TypeKind::kFloat && to == TypeKind::kInteger) {
    resolved.argument_types = {arrow::float64()};
    resolved.kernel = [target, context](const std::vector<arrow::Datum>& args, int64_t) {
      arrow::Datum wide = FloatToInt64(args[0], context);
      if (target->id() == arrow::Type::INT64) return wide;
      return CastOnUserData(wide, arrow::compute::CastOptions::Safe(target), context);
    };
  } else {
    bool number_like = [](TypeKind kind) {
      return kind == TypeKind::kInteger || kind == TypeKind::kFloat || kind == TypeKind::kBool;
    }(from) && (to == TypeKind::kInteger || to == TypeKind::kFloat || to == TypeKind::kBool);
    bool to_string = to == TypeKind::kString && from != TypeKind::kOther;
    bool from_string = from == TypeKind::kString &&
                       (to == TypeKind::kInteger || to == TypeKind::kFloat || to == TypeKind::kBool);
    bool between_timestamps = from == TypeKind::kTimestamp && to == TypeKind::kTimestamp;
    if (!number_like && !to_string && !from_string && !between_timestamps) fail();
    arrow::compute::CastOptions options = arrow::compute::CastOptions::Safe(target);
    // int -> float may round above 2^53; a timestamp may lose its sub-unit part.
    options.allow_float_truncate = from == TypeKind::kInteger && to == TypeKind::kFloat;
    options.allow_time_truncate = between_timestamps;
    resolved.kernel = [options, context](const std::vector<arrow::Datum>& args, int64_t) {
      return CastOnUserData(args[0], options, context);
    };
  }
  return resolved;
}

}  // namespace

void RegisterCastFunction(FunctionRegistry& registry) {
  registry.Add("cast", "cast(a, type=T): numbers <-> numbers (float -> int truncates), numbers and "
               "timestamps <-> string (ISO 8601), timestamp <-> int64 (the raw value); a value that "
               "does not fit is an error.", ResolveCast);
}

}  // namespace millstream::expr
