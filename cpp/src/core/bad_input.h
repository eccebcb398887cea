// What a source does with a bad input row (on_error), and the rows it sends to the dead-letter
// output. Readers (formats/) and sources (connectors/) share these, so they sit below both.
#pragma once

#include <string>

#include "core/batch.h"

namespace millstream {

enum class OnError { kRaise, kSkip, kDeadLetter };

OnError ParseOnError(const std::string& name);  // "raise" | "skip" | "dead_letter"

// Columns of the dead-letter stream: source (file path), line (1-based physical line, null
// where the source has no lines), field (null when the row as a whole is bad), reason, raw.
SchemaPtr DeadLetterSchema();

}  // namespace millstream
