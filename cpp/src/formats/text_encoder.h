// Batches as text rows, for the file sinks: CSV (a header row, RFC-4180 quoting, a null is an
// empty field and an empty string is "", so both survive a round trip through read_csv) and
// JSON Lines (one object a line, nulls as null). Timestamps are written as ISO-8601 text, with
// a "Z" when the column has a time zone; floats in their shortest exact form. JSON has no NaN
// or infinity: those floats are written as null in JSON Lines ("nan", "inf" in CSV).
#pragma once

#include <memory>
#include <string>

#include "core/batch.h"

namespace millstream {

class TextEncoder {
 public:
  virtual ~TextEncoder() = default;
  // Text that starts the file (the CSV header row).
  virtual void AppendPrologue(std::string* out) const = 0;
  // Appends the batch's rows, each ending with '\n'. The batch must have the encoder's schema.
  virtual void AppendBatch(const arrow::RecordBatch& batch, std::string* out) const = 0;
};

// Throw UserError naming `sink_name` and the column when a column type has no text form here
// (supported: integers, floats, bool, string, large_string, timestamp).
std::unique_ptr<TextEncoder> MakeCsvEncoder(SchemaPtr schema, const std::string& sink_name,
                                            char delimiter = ',');
std::unique_ptr<TextEncoder> MakeJsonlEncoder(SchemaPtr schema, const std::string& sink_name);

}  // namespace millstream
