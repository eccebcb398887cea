// Why a record (a JSON object, a CSV record) is not a row: shared by the decoders that file
// readers and Kafka messages both use, each reporting it with its own place (file:line or
// topic[partition]@offset).
#pragma once

#include <string>

namespace millstream {

// `field` names the column (empty when the record as a whole is bad), `reason` says what was
// expected and what was found.
struct RowProblem {
  std::string field;
  std::string reason;
};

}  // namespace millstream
