// ISO-8601 timestamps as text files carry them: "2024-01-02T03:04:05.123Z",
// "2024-01-02 03:04:05", "2024-01-02T03:04:05+02:00", "2024-01-02". A text without an offset
// is read as UTC (as Arrow stores every timestamp: instants since the epoch in UTC), also for a
// column with a time zone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <arrow/type.h>

namespace millstream {

// Parses `text` into a count of `unit` since the epoch. Returns false when the text is not an
// ISO-8601 timestamp or does not fit the unit (timestamp[ns] holds years 1677..2262). Digits
// finer than the unit are dropped (rounding toward the past).
bool ParseIsoTimestamp(std::string_view text, arrow::TimeUnit::type unit, int64_t* value);

// Whether `text` is an ISO-8601 date *with a time* that ParseIsoTimestamp reads (schema
// inference: such a column becomes a timestamp, as polars' try_parse_dates and DuckDB's CSV
// sniffer make it; a bare date stays text). `has_zone`: it ends in "Z" or an offset.
bool IsIsoDateTime(std::string_view text, bool* has_zone);

// The timestamp type inferred for a column of ISO-8601 texts: microseconds, in UTC when any
// text named its zone (the instants are then UTC ones), else without a zone.
std::shared_ptr<arrow::DataType> InferredTimestampType(bool any_zone);

// Appends `value` (a count of `unit` since the epoch) as "YYYY-MM-DDTHH:MM:SS", then a fraction
// with the unit's digits when it is not zero, then "Z" when `utc_suffix` (columns with a time
// zone: the value is an instant in UTC).
void AppendIsoTimestamp(int64_t value, arrow::TimeUnit::type unit, bool utc_suffix,
                        std::string* out);

}  // namespace millstream
