// millstream type names <-> Arrow types. The plan spells types as Arrow's ToString() does:
// "int64", "float64", "bool", "string", "timestamp[us]", "timestamp[ms, tz=UTC]".
#pragma once

#include <memory>
#include <string>

#include <arrow/type.h>

namespace millstream {

// Throws UserError for an unknown name.
std::shared_ptr<arrow::DataType> ParseType(const std::string& name);

bool IsTimestamp(const arrow::DataType& type);

// Factor that turns a value of this timestamp unit into milliseconds (as a divisor or a
// multiplier): returns units per millisecond for us/ns (1000, 1e6), and 1 for ms; seconds: -1000.
int64_t TimestampUnitsPerMs(arrow::TimeUnit::type unit);

// Values of this timestamp unit in one second: 1, 1000, 1000000 or 1000000000.
int64_t TimestampUnitsPerSecond(arrow::TimeUnit::type unit);

// Integers compute as int64, which cannot hold uint64 values from 2^63 on (Parquet files often
// have such columns): computing on one is a UserTypeError naming it (`what` says where), never
// silently wrapped values. Passing such a column through (select, sinks, keys) is fine.
void RejectUint64Computation(const arrow::DataType& type, const std::string& column,
                             const std::string& what);

}  // namespace millstream
