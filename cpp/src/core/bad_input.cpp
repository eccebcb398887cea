#include "core/bad_input.h"

#include "core/error.h"

namespace millstream {

OnError ParseOnError(const std::string& name) {
  if (name == "raise") return OnError::kRaise;
  if (name == "skip") return OnError::kSkip;
  if (name == "dead_letter") return OnError::kDeadLetter;
  throw UserError("unknown on_error '" + name + "' (use \"raise\", \"skip\" or \"dead_letter\")");
}

SchemaPtr DeadLetterSchema() {
  // One shared instance: every source's dead letters have the same schema, so they can be
  // unioned without casts.
  static const SchemaPtr schema = arrow::schema({
      arrow::field("source", arrow::utf8(), /*nullable=*/false),
      arrow::field("line", arrow::int64()),   // null where the source has no lines (Kafka)
      arrow::field("field", arrow::utf8()),   // null when the row as a whole is bad
      arrow::field("reason", arrow::utf8(), /*nullable=*/false),
      arrow::field("raw", arrow::utf8()),
  });
  return schema;
}

}  // namespace millstream
