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

// Appends `value` (a count of `unit` since the epoch) as "YYYY-MM-DDTHH:MM:SS", then a fraction
// with the unit's digits when it is not zero, then "Z" when `utc_suffix` (columns with a time
// zone: the value is an instant in UTC).
void AppendIsoTimestamp(int64_t value, arrow::TimeUnit::type unit, bool utc_suffix,
                        std::string* out);

}  // namespace millstream
