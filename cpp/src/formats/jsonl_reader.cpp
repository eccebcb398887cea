#include "formats/jsonl_reader.h"

#include <algorithm>
#include <unordered_map>

#include <simdjson.h>

#include "core/error.h"
#include "formats/iso_timestamp.h"
#include "formats/text_lines.h"
#include "formats/utf8.h"

namespace millstream {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Fewer columns than this are looked up by a linear scan (faster than hashing).
constexpr size_t kLinearLookupColumns = 12;

std::string InvalidJsonReason(simdjson::error_code code) {
  return std::string("invalid JSON (") + simdjson::error_message(code) + ")";
}

std::string Got(const element& value) {
  return "got " + DescribeValue(simdjson::minify(value), /*quote=*/false);
}

class JsonlReader final : public TextRowReader {
 public:
  JsonlReader(std::vector<ColumnSpec> specs, const char* readable_end)
      : specs_(std::move(specs)), readable_end_(readable_end), seen_stamp_(specs_.size(), 0) {
    for (size_t i = 0; i < specs_.size(); ++i) index_.emplace(specs_[i].name, static_cast<int>(i));
  }

  const char* ReadRows(const char* cursor, const char* range_end, ColumnBuffers& columns,
                       BadRows& bad_rows) override {
    const char* const start = cursor;
    while (ReadsOn(start, cursor, range_end, columns)) {
      const TextLine line = NextLine(cursor, range_end);
      cursor = line.next;
      if (line.begin == line.end || (*line.begin <= ' ' && IsBlank(line.begin, line.end))) continue;
      ParseLine(line, columns, bad_rows);
    }
    return cursor;
  }

 private:
  void ParseLine(const TextLine& line, ColumnBuffers& columns, BadRows& bad_rows) {
    const size_t length = static_cast<size_t>(line.end - line.begin);
    const char* text = line.begin;
    // simdjson may read up to SIMDJSON_PADDING bytes past the document: in place that is the
    // next lines of the text in memory; near its end, a padded copy.
    if (static_cast<size_t>(readable_end_ - line.begin) < length + simdjson::SIMDJSON_PADDING) {
      padded_copy_.assign(line.begin, length);
      padded_copy_.resize(length + simdjson::SIMDJSON_PADDING, ' ');
      text = padded_copy_.data();
    }
    element root;
    const auto error = parser_.parse(text, length, /*realloc_if_needed=*/false).get(root);
    if (error == simdjson::UTF8_ERROR) {
      ParseInvalidUtf8Line(line, columns, bad_rows);
    } else if (error) {
      bad_rows.Report(line.begin, line.end, {}, InvalidJsonReason(error));
    } else {
      SetRow(root, line, columns, bad_rows);
    }
  }

  // Writes the object's values into row columns.rows() and commits it, or reports why not.
  void SetRow(const element& root, const TextLine& line, ColumnBuffers& columns,
              BadRows& bad_rows) {
    simdjson::dom::object object;
    if (root.get_object().get(object)) {
      bad_rows.Report(line.begin, line.end, {}, "expected a JSON object, " + Got(root));
      return;
    }
    ++stamp_;
    int guess = 0;
    std::string reason;
    for (const auto field : object) {
      const int column = Lookup(field.key, guess);
      if (column < 0) continue;  // a key the schema does not ask for
      guess = column + 1;
      seen_stamp_[column] = stamp_;
      if (!SetValue(column, field.value, columns, &reason)) {
        bad_rows.Report(line.begin, line.end, specs_[column].name, reason);
        return;
      }
    }
    for (size_t column = 0; column < specs_.size(); ++column) {
      if (seen_stamp_[column] == stamp_) continue;
      if (specs_[column].required) {
        bad_rows.Report(line.begin, line.end, specs_[column].name, "required field is missing");
        return;
      }
      columns.SetNull(static_cast<int>(column));
    }
    columns.CommitRow();
  }

  int Lookup(std::string_view key, int guess) const {
    // Rows usually list their keys in the same order: try the column after the last match.
    const int count = static_cast<int>(specs_.size());
    if (guess < count && specs_[guess].name == key) return guess;
    if (specs_.size() <= kLinearLookupColumns) {
      for (int i = 0; i < count; ++i) {
        if (specs_[i].name == key) return i;
      }
      return -1;
    }
    const auto found = index_.find(key);
    return found == index_.end() ? -1 : found->second;
  }

  bool SetValue(int column, const element& value, ColumnBuffers& columns, std::string* reason) {
    const ColumnSpec& spec = specs_[column];
    const element_type type = value.type();
    if (type == element_type::NULL_VALUE) {
      if (spec.required) {
        *reason = "required field is null";
        return false;
      }
      columns.SetNull(column);
      return true;
    }
    switch (spec.kind) {
      case ColumnKind::kInt64:
        if (type == element_type::INT64) {
          columns.SetInt64(column, value.get_int64().value_unsafe());
          return true;
        }
        break;
      case ColumnKind::kFloat64:
        if (type == element_type::DOUBLE) {
          columns.SetFloat64(column, value.get_double().value_unsafe());
          return true;
        }
        if (type == element_type::INT64) {
          columns.SetFloat64(column, static_cast<double>(value.get_int64().value_unsafe()));
          return true;
        }
        if (type == element_type::UINT64) {
          columns.SetFloat64(column, static_cast<double>(value.get_uint64().value_unsafe()));
          return true;
        }
        break;
      case ColumnKind::kBool:
        if (type == element_type::BOOL) {
          columns.SetBool(column, value.get_bool().value_unsafe());
          return true;
        }
        break;
      case ColumnKind::kString:
        if (type == element_type::STRING) {
          const std::string_view text = value.get_string().value_unsafe();
          columns.SetString(column, text.data(), text.size());
          return true;
        }
        break;
      case ColumnKind::kTimestamp: {
        if (type == element_type::INT64) {  // epoch, in the column's unit
          columns.SetInt64(column, value.get_int64().value_unsafe());
          return true;
        }
        int64_t timestamp = 0;
        if (type == element_type::STRING &&
            ParseIsoTimestamp(value.get_string().value_unsafe(), spec.unit, &timestamp)) {
          columns.SetInt64(column, timestamp);
          return true;
        }
        *reason = "expected timestamp (ISO-8601 text or epoch integer), " + Got(value);
        return false;
      }
    }
    *reason = std::string("expected ") + KindName(spec.kind) + ", " + Got(value);
    return false;
  }

  // simdjson rejects a document with invalid UTF-8 as a whole. Find the top-level field that
  // holds it: a column of ours makes the row bad (naming the field); a key we do not read does
  // not, and the row is read from a copy where the bad bytes are replaced.
  void ParseInvalidUtf8Line(const TextLine& line, ColumnBuffers& columns, BadRows& bad_rows) {
    const std::string_view original(line.begin, static_cast<size_t>(line.end - line.begin));
    std::string sanitized(original);
    std::vector<size_t> invalid_offsets;
    for (size_t pos = 0; pos < sanitized.size();) {
      const size_t length = Utf8SequenceLength(original, pos);
      if (length == 0) {
        invalid_offsets.push_back(pos);
        sanitized[pos] = '?';  // one byte for one byte: offsets stay those of the line
        ++pos;
      } else {
        pos += length;
      }
    }
    const size_t length = sanitized.size();
    sanitized.resize(length + simdjson::SIMDJSON_PADDING, ' ');

    // Top-level keys with the offset where each starts (key i spans up to key i + 1).
    std::vector<std::pair<size_t, int>> key_starts;
    bool parsed = false;
    {
      if (!ondemand_parser_) ondemand_parser_ = std::make_unique<simdjson::ondemand::parser>();
      simdjson::ondemand::document document;
      simdjson::ondemand::object object;
      if (!ondemand_parser_->iterate(sanitized.data(), length, sanitized.size()).get(document) &&
          !document.get_object().get(object)) {
        parsed = true;
        for (auto field_result : object) {
          simdjson::ondemand::field field;
          if (std::move(field_result).get(field)) {
            parsed = false;
            break;
          }
          const size_t key_offset = static_cast<size_t>(field.key().raw() - sanitized.data());
          std::string_view key;
          if (field.unescaped_key().get(key)) {
            parsed = false;
            break;
          }
          key_starts.emplace_back(key_offset, Lookup(key, 0));
        }
      }
    }
    if (!parsed || key_starts.empty() || invalid_offsets.front() < key_starts.front().first) {
      bad_rows.Report(line.begin, line.end, {}, "invalid UTF-8");
      return;
    }
    for (const size_t offset : invalid_offsets) {
      auto after = std::upper_bound(
          key_starts.begin(), key_starts.end(), offset,
          [](size_t value, const std::pair<size_t, int>& start) { return value < start.first; });
      const int column = std::prev(after)->second;
      if (column >= 0) {
        bad_rows.Report(line.begin, line.end, specs_[column].name, "invalid UTF-8");
        return;
      }
    }
    element root;
    const auto error =
        parser_.parse(sanitized.data(), length, /*realloc_if_needed=*/false).get(root);
    if (error) {
      bad_rows.Report(line.begin, line.end, {}, InvalidJsonReason(error));
      return;
    }
    SetRow(root, line, columns, bad_rows);
  }

  std::vector<ColumnSpec> specs_;
  std::unordered_map<std::string_view, int> index_;
  const char* readable_end_;
  simdjson::dom::parser parser_;
  std::unique_ptr<simdjson::ondemand::parser> ondemand_parser_;  // only for invalid UTF-8
  std::string padded_copy_;
  // seen_stamp_[column] == stamp_ when the current row set the column.
  std::vector<uint64_t> seen_stamp_;
  uint64_t stamp_ = 0;
};

// What the sampled values of one key were.
struct KeyEvidence {
  std::string name;
  bool has_int = false;
  bool has_float = false;
  bool has_bool = false;
  bool has_string = false;
};

[[noreturn]] void ThrowInference(const std::string& path, const std::string& head,
                                 const char* line_begin, const std::string& key,
                                 const std::string& problem) {
  const int64_t line = std::count(head.data(), line_begin, '\n') + 1;
  throw UserError(path + ":" + std::to_string(line) + ": field '" + key + "': " + problem +
                  "; pass a schema to read this file");
}

}  // namespace

std::unique_ptr<TextRowReader> MakeJsonlReader(std::vector<ColumnSpec> specs,
                                               const char* readable_end) {
  return std::make_unique<JsonlReader>(std::move(specs), readable_end);
}

SchemaPtr InferJsonlSchema(const std::vector<std::shared_ptr<const InputFile>>& files,
                           int64_t max_rows) {
  simdjson::dom::parser parser;
  std::vector<KeyEvidence> keys;
  std::unordered_map<std::string, size_t> index;
  int64_t rows = 0;
  for (const auto& file : files) {
    const std::string head = file->ReadHead(kInferenceHeadBytes);
    const char* head_end = head.data() + head.size();
    const char* cursor = head.data() + ByteOrderMarkLength(head.data(), head.size());
    while (cursor < head_end && rows < max_rows) {
      const TextLine line = NextLine(cursor, head_end);
      cursor = line.next;
      if (IsBlank(line.begin, line.end)) continue;
      element root;
      simdjson::dom::object object;
      // Bad lines are left to the reader, which reports them as on_error says.
      if (parser.parse(line.begin, static_cast<size_t>(line.end - line.begin)).get(root) ||
          root.get_object().get(object)) {
        continue;
      }
      ++rows;
      for (const auto field : object) {
        auto [position, inserted] = index.emplace(std::string(field.key), keys.size());
        if (inserted) keys.push_back(KeyEvidence{std::string(field.key)});
        KeyEvidence& evidence = keys[position->second];
        switch (field.value.type()) {
          case element_type::INT64: evidence.has_int = true; break;
          case element_type::UINT64:
          case element_type::DOUBLE: evidence.has_float = true; break;
          case element_type::BOOL: evidence.has_bool = true; break;
          case element_type::STRING: evidence.has_string = true; break;
          case element_type::NULL_VALUE: break;
          case element_type::ARRAY:
          case element_type::OBJECT:
            ThrowInference(file->path(), head, line.begin, evidence.name,
                           "holds a nested JSON value, and millstream reads flat objects only");
        }
        const int kinds = (evidence.has_int || evidence.has_float) + evidence.has_bool +
                          evidence.has_string;
        if (kinds > 1) {
          ThrowInference(file->path(), head, line.begin, evidence.name,
                         "holds values of different JSON types (numbers, booleans, strings) in "
                         "different rows");
        }
      }
    }
    if (rows >= max_rows) break;
  }
  if (rows == 0) {
    std::string names;
    for (const auto& file : files) names += (names.empty() ? "" : ", ") + file->path();
    throw UserError("cannot infer a schema from " + names +
                    ": it holds no JSON object (an empty file?); pass a schema");
  }
  arrow::FieldVector fields;
  for (const KeyEvidence& evidence : keys) {
    std::shared_ptr<arrow::DataType> type = arrow::utf8();
    if (evidence.has_float) {
      type = arrow::float64();
    } else if (evidence.has_int) {
      type = arrow::int64();
    } else if (evidence.has_bool) {
      type = arrow::boolean();
    }
    fields.push_back(arrow::field(evidence.name, type));
  }
  return arrow::schema(std::move(fields));
}

}  // namespace millstream
