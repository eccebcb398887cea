#include "formats/jsonl_reader.h"

#include <algorithm>
#include <unordered_map>

#include <simdjson.h>

#include "core/error.h"
#include "formats/iso_timestamp.h"
#include "formats/json_object_decoder.h"
#include "formats/text_lines.h"

namespace millstream {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Lines of one file, each decoded as one object (formats/json_object_decoder.h).
class JsonlReader final : public TextRowReader {
 public:
  JsonlReader(std::vector<ColumnSpec> specs, const char* readable_end)
      : decoder_(std::move(specs)), readable_end_(readable_end) {}

  const char* ReadRows(const char* cursor, const char* range_end, ColumnBuffers& columns,
                       BadRows& bad_rows) override {
    const char* const start = cursor;
    while (ReadsOn(start, cursor, range_end, columns)) {
      const TextLine line = NextLine(cursor, range_end);
      cursor = line.next;
      if (line.begin == line.end || (*line.begin <= ' ' && IsBlank(line.begin, line.end))) continue;
      // Lines far enough from the end of the text in memory are parsed in place.
      if (!decoder_.DecodeRow(line.begin, static_cast<size_t>(line.end - line.begin),
                              static_cast<size_t>(readable_end_ - line.begin), columns,
                              &problem_)) {
        bad_rows.Report(line.begin, line.end, problem_.field, problem_.reason);
      }
    }
    return cursor;
  }

 private:
  JsonObjectDecoder decoder_;
  const char* readable_end_;
  RowProblem problem_;
};

// What the sampled values of one key were.
struct KeyEvidence {
  std::string name;
  bool has_int = false;
  bool has_float = false;
  bool has_bool = false;
  bool has_string = false;
  bool all_strings_timestamps = true;  // every string an ISO-8601 date and time
  bool any_zone = false;               // ... and one of them named its zone
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
          case element_type::STRING: {
            evidence.has_string = true;
            bool has_zone = false;
            if (evidence.all_strings_timestamps &&
                IsIsoDateTime(field.value.get_string().value_unsafe(), &has_zone)) {
              evidence.any_zone = evidence.any_zone || has_zone;
            } else {
              evidence.all_strings_timestamps = false;
            }
            break;
          }
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
    } else if (evidence.has_string && evidence.all_strings_timestamps) {
      type = InferredTimestampType(evidence.any_zone);
    }
    fields.push_back(arrow::field(evidence.name, type));
  }
  return arrow::schema(std::move(fields));
}

}  // namespace millstream
