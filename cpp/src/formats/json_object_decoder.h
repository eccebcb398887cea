// One flat JSON object into one row of ColumnBuffers, parsed with simdjson's DOM parser. The
// decoding shared by JSON Lines files (a line is an object) and Kafka messages (a message is
// one), so that both read values, report bad ones and treat invalid UTF-8 the same way.
// Keys are matched to the schema's columns by name in any order; keys not in the schema are
// ignored; a missing key or null is a null; a duplicate key's last value wins (as in Python's
// json module).
//
//   JsonObjectDecoder decoder(ColumnSpecsOf(*schema, "events"));
//   RowProblem problem;
//   if (!decoder.DecodeRow(text, length, length, columns, &problem)) report(problem);
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "formats/column_buffers.h"
#include "formats/row_problem.h"

namespace millstream {

class JsonObjectDecoder {
 public:
  explicit JsonObjectDecoder(std::vector<ColumnSpec> specs);

  // Writes the object in [text, text + length) into row columns.rows() and commits it; returns
  // false with `problem` set (nothing committed) when it is not a valid row. simdjson reads up
  // to SIMDJSON_PADDING bytes past a document: when fewer than length + SIMDJSON_PADDING bytes
  // are readable from `text` on (`readable_bytes`), the text is parsed from a padded copy.
  bool DecodeRow(const char* text, size_t length, size_t readable_bytes, ColumnBuffers& columns,
                 RowProblem* problem);

  const std::vector<ColumnSpec>& specs() const { return specs_; }

 private:
  bool SetRow(const simdjson::dom::element& root, ColumnBuffers& columns, RowProblem* problem);
  int Lookup(std::string_view key, int guess) const;
  bool SetValue(int column, const simdjson::dom::element& value, ColumnBuffers& columns,
                std::string* reason);
  bool DecodeInvalidUtf8(std::string_view original, ColumnBuffers& columns, RowProblem* problem);
  bool DecodeOutOfRangeNumbers(std::string_view original, ColumnBuffers& columns, RowProblem* problem);
  // Parses `repaired` (a copy of a document of the same length, with the bytes at `bad_offsets`
  // made parseable): a bad offset inside a field of ours fails the row naming the field with
  // `reason_of(offset)`; in a field the schema does not ask for it does not matter.
  template <typename ReasonOf>
  bool DecodeRepaired(std::string repaired, const std::vector<size_t>& bad_offsets,
                      ReasonOf reason_of, ColumnBuffers& columns, RowProblem* problem);

  std::vector<ColumnSpec> specs_;
  std::unordered_map<std::string_view, int> index_;
  simdjson::dom::parser parser_;
  std::unique_ptr<simdjson::ondemand::parser> ondemand_parser_;  // only for repaired documents
  std::string padded_copy_;
  // seen_stamp_[column] == stamp_ when the current row set the column.
  std::vector<uint64_t> seen_stamp_;
  uint64_t stamp_ = 0;
};

}  // namespace millstream
