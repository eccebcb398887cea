#include "core/types.h"

#include "core/error.h"

namespace millstream {

namespace {
arrow::TimeUnit::type ParseUnit(const std::string& unit, const std::string& whole) {
  if (unit == "s") return arrow::TimeUnit::SECOND;
  if (unit == "ms") return arrow::TimeUnit::MILLI;
  if (unit == "us") return arrow::TimeUnit::MICRO;
  if (unit == "ns") return arrow::TimeUnit::NANO;
  throw UserError("unknown timestamp unit '" + unit + "' in type '" + whole +
                  "' (use s, ms, us or ns)");
}
}  // namespace

std::shared_ptr<arrow::DataType> ParseType(const std::string& name) {
  if (name == "int64") return arrow::int64();
  if (name == "int32") return arrow::int32();
  if (name == "float64" || name == "double") return arrow::float64();
  if (name == "float32" || name == "float") return arrow::float32();
  if (name == "bool") return arrow::boolean();
  if (name == "string" || name == "utf8") return arrow::utf8();
  if (name == "large_string") return arrow::large_utf8();
  if (name.rfind("timestamp[", 0) == 0 && name.back() == ']') {
    std::string inner = name.substr(10, name.size() - 11);
    auto comma = inner.find(',');
    if (comma == std::string::npos) return arrow::timestamp(ParseUnit(inner, name));
    std::string unit = inner.substr(0, comma);
    std::string rest = inner.substr(comma + 1);
    while (!rest.empty() && rest.front() == ' ') rest.erase(rest.begin());
    if (rest.rfind("tz=", 0) != 0) throw UserError("cannot read type '" + name + "'");
    return arrow::timestamp(ParseUnit(unit, name), rest.substr(3));
  }
  throw UserError("unknown type '" + name +
                  "' (millstream types: int64, float64, bool, string, timestamp[unit, tz=...])");
}

bool IsTimestamp(const arrow::DataType& type) { return type.id() == arrow::Type::TIMESTAMP; }

int64_t TimestampUnitsPerMs(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return -1000;
    case arrow::TimeUnit::MILLI: return 1;
    case arrow::TimeUnit::MICRO: return 1000;
    case arrow::TimeUnit::NANO: return 1000000;
  }
  return 1;
}

int64_t TimestampUnitsPerSecond(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return 1;
    case arrow::TimeUnit::MILLI: return 1000;
    case arrow::TimeUnit::MICRO: return 1000000;
    case arrow::TimeUnit::NANO: return 1000000000;
  }
  return 1;
}

void RejectUint64Computation(const arrow::DataType& type, const std::string& column,
                             const std::string& what) {
  if (type.id() != arrow::Type::UINT64) return;
  throw UserTypeError(what + ": column '" + column + "' is uint64, and integers compute as "
                      "int64, which cannot hold values from 2^63 on; cast it first (e.g. "
                      "col('" + column + "').cast(ms.float64), or to int64 in pyarrow before "
                      "from_arrow when its values are below 2^63)");
}

}  // namespace millstream
