// dt.truncate dt.year dt.month dt.day dt.hour dt.minute dt.second dt.epoch from_epoch.
// Calendar parts come from Arrow's kernels, which read a zoned timestamp in its own time zone
// (tz database) and a naive one as UTC. truncate and epoch are plain integer arithmetic on the
// raw value, floored so that times before 1970 land on the earlier boundary, as windows do. A
// result beyond int64 (dt.epoch("ns") of microseconds past 2262, a boundary before the first
// representable time) is an overflow error (expr/integer_overflow.h).
#include "core/error.h"
#include "core/time_arithmetic.h"
#include "core/types.h"
#include "expr/function_registry.h"
#include "expr/integer_overflow.h"
#include "expr/kernel_support.h"
#include "expr/type_rules.h"

namespace millstream::expr {

namespace {

// out = f(raw int64 value), keeping the input's validity. A valid row where overflows(raw)
// is an overflow error naming `expression` (describe(raw) tells the operation).
template <typename Fn, typename Overflows, typename Describe>
arrow::Datum MapRaw(const arrow::Datum& value, const std::shared_ptr<arrow::DataType>& out_type, Fn fn,
                    Overflows overflows, Describe describe, const std::string& expression) {
  const arrow::ArrayData& array = *value.array();
  const int64_t* in = array.GetValues<int64_t>(1);
  auto buffer = AllocateBytes(array.length * 8);
  int64_t* out = buffer->mutable_data_as<int64_t>();
  for (int64_t i = 0; i < array.length; ++i) out[i] = fn(in[i]);
  auto validity = ValidityAtZero(array);
  CheckNoOverflow(validity, array.length, [&](int64_t i) { return overflows(in[i]); },
                  [&](int64_t i) { return describe(in[i]); }, expression,
                  "filter rows with such times out first, or use a coarser unit");
  return MakeArray(out_type, array.length, std::move(validity), std::move(buffer));
}

std::string UnitName(int64_t units_per_second) {
  switch (units_per_second) {
    case 1: return "s";
    case 1000: return "ms";
    case 1000000: return "us";
    default: return "ns";
  }
}

// Whether floor(t / every) * every is below INT64_MIN.
bool MulOverflowsFloor(int64_t t, int64_t every) { return MulOverflows(FloorDiv(t, every), every); }

const arrow::TimestampType& ExpectTimestamp(const CallSite& call) {
  call.ExpectArgCount(1);
  const auto& type = call.arg(0).type;
  if (KindOf(*type) != TypeKind::kTimestamp) {
    call.FailTypes(KindOf(*type) == TypeKind::kInteger
                       ? "it needs a timestamp; for epoch integers use from_epoch(x, unit=...) first"
                       : "it needs a timestamp");
  }
  return static_cast<const arrow::TimestampType&>(*type);
}

arrow::TimeUnit::type ParseUnitOption(const CallSite& call) {
  std::string unit = call.StringOption("unit");
  if (unit == "s") return arrow::TimeUnit::SECOND;
  if (unit == "ms") return arrow::TimeUnit::MILLI;
  if (unit == "us") return arrow::TimeUnit::MICRO;
  if (unit == "ns") return arrow::TimeUnit::NANO;
  call.FailOption("unknown unit \"" + unit + "\" (use \"s\", \"ms\", \"us\" or \"ns\")");
}

ResolvedCall ResolveTruncate(const CallSite& call) {
  const arrow::TimestampType& type = ExpectTimestamp(call);
  int64_t every_ms = call.IntOption("every_ms");
  if (every_ms <= 0) call.FailOption("every_ms must be positive, got " + std::to_string(every_ms));
  int64_t every_units;
  if (type.unit() == arrow::TimeUnit::SECOND) {
    if (every_ms % 1000 != 0) {
      call.FailOption("a timestamp[s] can only be truncated to whole seconds, got every_ms=" +
                      std::to_string(every_ms));
    }
    every_units = every_ms / 1000;
  } else if (__builtin_mul_overflow(every_ms, TimestampUnitsPerMs(type.unit()), &every_units)) {
    call.FailOption("every_ms=" + std::to_string(every_ms) + " is beyond int64 in the timestamp's unit");
  }
  ResolvedCall resolved;
  resolved.output_type = call.arg(0).type;
  // The floor of a time within `every` of INT64_MIN lies before it: an overflow.
  resolved.kernel = [every_units, out_type = resolved.output_type, text = call.text()](
                        const std::vector<arrow::Datum>& args, int64_t) {
    return MapRaw(
        args[0], out_type, [every_units](int64_t t) { return WrapMul(FloorDiv(t, every_units), every_units); },
        [every_units](int64_t t) { return MulOverflowsFloor(t, every_units); },
        [every_units](int64_t t) {
          return "the boundary below " + std::to_string(t) + " in steps of " + std::to_string(every_units);
        },
        text);
  };
  return resolved;
}

Resolver ResolvePart(std::string arrow_function) {
  return [arrow_function](const CallSite& call) {
    ExpectTimestamp(call);
    ResolvedCall resolved;
    resolved.output_type = arrow::int64();
    resolved.kernel = [arrow_function](const std::vector<arrow::Datum>& args, int64_t) {
      return CallArrowOnUserData(arrow_function, args, nullptr, "reading the time zone");
    };
    return resolved;
  };
}

ResolvedCall ResolveEpoch(const CallSite& call) {
  const arrow::TimestampType& type = ExpectTimestamp(call);
  arrow::TimeUnit::type target = ParseUnitOption(call);
  int64_t from_per_second = TimestampUnitsPerSecond(type.unit());
  int64_t to_per_second = TimestampUnitsPerSecond(target);
  ResolvedCall resolved;
  resolved.output_type = arrow::int64();
  resolved.kernel = [from_per_second, to_per_second, text = call.text()](const std::vector<arrow::Datum>& args, int64_t) {
    auto never = [](int64_t) { return false; };
    auto describe = [from_per_second, to_per_second](int64_t t) {
      return std::to_string(t) + " " + UnitName(from_per_second) + " in " + UnitName(to_per_second);
    };
    if (to_per_second >= from_per_second) {
      int64_t factor = to_per_second / from_per_second;
      return MapRaw(
          args[0], arrow::int64(),
          [factor](int64_t t) { return WrapMul(t, factor); },
          [factor](int64_t t) { return MulOverflows(t, factor); }, describe, text);
    }
    int64_t divisor = from_per_second / to_per_second;
    return MapRaw(args[0], arrow::int64(), [divisor](int64_t t) { return FloorDiv(t, divisor); }, never, describe, text);
  };
  return resolved;
}

ResolvedCall ResolveFromEpoch(const CallSite& call) {
  call.ExpectArgCount(1);
  TypeKind kind = KindOf(*call.arg(0).type);
  if (kind != TypeKind::kInteger && kind != TypeKind::kNull) call.FailTypes("it needs an integer");
  auto target = arrow::timestamp(ParseUnitOption(call));
  ResolvedCall resolved;
  resolved.output_type = target;
  resolved.argument_types = {arrow::int64()};
  resolved.kernel = [target](const std::vector<arrow::Datum>& args, int64_t) { return Reinterpret(args[0], target); };
  return resolved;
}

}  // namespace

void RegisterTemporalFunctions(FunctionRegistry& registry) {
  registry.Add("dt.truncate", "floor a timestamp to a multiple of every_ms, counted from the epoch "
               "(UTC, also for zoned timestamps, as windows are).", ResolveTruncate);
  registry.Add("dt.year", "the year (int64), in the timestamp's time zone, else UTC.", ResolvePart("year"));
  registry.Add("dt.month", "the month 1-12 (int64), as dt.year.", ResolvePart("month"));
  registry.Add("dt.day", "the day of the month 1-31 (int64), as dt.year.", ResolvePart("day"));
  registry.Add("dt.hour", "the hour 0-23 (int64), as dt.year.", ResolvePart("hour"));
  registry.Add("dt.minute", "the minute 0-59 (int64), as dt.year.", ResolvePart("minute"));
  registry.Add("dt.second", "the second 0-59 (int64, fraction dropped), as dt.year.", ResolvePart("second"));
  registry.Add("dt.epoch", "the time since 1970-01-01 UTC in `unit` (s, ms, us, ns) as int64, floored.",
               ResolveEpoch);
  registry.Add("from_epoch", "an integer count of `unit` since 1970-01-01 UTC as timestamp[unit].",
               ResolveFromEpoch);
}

}  // namespace millstream::expr
