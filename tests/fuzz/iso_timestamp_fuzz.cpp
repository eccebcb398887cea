// The ISO-8601 parser (formats/iso_timestamp) on any text, in every unit: what it accepts
// must print and parse back to the same value, when the printed year has the four digits the
// parser reads (an offset moves 9999-12-31T23:59-12:30 into year 10000, which the printer
// writes with five digits, as it does for epoch integers beyond year 9999).
#include <stdexcept>
#include <string>
#include <string_view>

#include "formats/iso_timestamp.h"
#include "fuzz_driver.h"

const char* const kFuzzTargetName = "iso_timestamp";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto unit : {arrow::TimeUnit::SECOND, arrow::TimeUnit::MILLI, arrow::TimeUnit::MICRO,
                    arrow::TimeUnit::NANO}) {
    int64_t value = 0;
    if (!millstream::ParseIsoTimestamp(text, unit, &value)) continue;
    for (bool utc_suffix : {false, true}) {
      std::string printed;
      millstream::AppendIsoTimestamp(value, unit, utc_suffix, &printed);
      if (printed.size() < 5 || printed[4] != '-' || printed[0] == '-') continue;
      int64_t again = 0;
      if (!millstream::ParseIsoTimestamp(printed, unit, &again) || again != value) {
        throw std::runtime_error("'" + std::string(text) + "' parsed to " + std::to_string(value) +
                                 ", printed as '" + printed + "', which parses to " +
                                 std::to_string(again));
      }
    }
  }
  return 0;
}
