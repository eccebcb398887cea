#include "formats/csv_layout.h"

#include <algorithm>

#include "core/error.h"
#include "formats/csv_fields.h"
#include "formats/iso_timestamp.h"
#include "formats/text_lines.h"
#include "formats/text_values.h"
#include "formats/utf8.h"

namespace millstream {

namespace {

// The first lines of a file, read when a source is declared (header, schema inference).
struct FileHead {
  const std::string& path;
  std::string bytes;
  const char* begin() const { return bytes.data(); }
  const char* end() const { return bytes.data() + bytes.size(); }
};

int64_t LineNumberAt(const FileHead& head, const char* position) {
  return std::count(head.begin(), position, '\n') + 1;
}

// The first non-blank line at or after `cursor`; its begin is null when there is none.
TextLine FirstNonBlankLine(const char* cursor, const char* end) {
  while (cursor < end) {
    const TextLine line = NextLine(cursor, end);
    if (line.begin != line.end) return line;
    cursor = line.next;
  }
  return TextLine{nullptr, nullptr, end};
}

const char* DataStart(const FileHead& head) {
  return head.begin() + ByteOrderMarkLength(head.begin(), head.bytes.size());
}

// The head of `file` that holds its first non-blank line (all of it when there is none).
FileHead HeadWithFirstLine(const InputFile& file) {
  for (int64_t max_bytes = int64_t{1} << 16;; max_bytes *= 4) {
    FileHead head{file.path(), file.ReadHead(max_bytes)};
    if (FirstNonBlankLine(DataStart(head), head.end()).begin != nullptr ||
        static_cast<int64_t>(head.bytes.size()) >= file.size()) {
      return head;
    }
  }
}

std::string DefaultColumnName(size_t index) { return "column_" + std::to_string(index + 1); }

// The header's names; the line is returned through `header_line` (begin null: empty file). An
// empty name is column_<n> (1-based), here, so that inference and reading agree on it; a name
// that is not UTF-8 is an error naming the file (Arrow and Python need UTF-8 names).
std::vector<std::string> ReadHeader(const FileHead& head, const CsvOptions& options,
                                    TextLine* header_line) {
  *header_line = FirstNonBlankLine(DataStart(head), head.end());
  std::vector<std::string> names;
  if (header_line->begin == nullptr) return names;
  const std::string where = head.path + ":" + std::to_string(LineNumberAt(head, header_line->begin));
  if (const char* reason =
          SplitCsvLine(header_line->begin, header_line->end, options.delimiter, &names)) {
    throw UserError(where + ": bad header row: " + reason);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (!IsValidUtf8(names[i].data(), names[i].size())) {
      throw UserError(where + ": the header's column " + std::to_string(i + 1) + " name \"" +
                      SanitizeUtf8(names[i]) + "\" is not valid UTF-8; convert the file to UTF-8 "
                      "(e.g. iconv -f latin1 -t utf-8)");
    }
    if (names[i].empty()) names[i] = DefaultColumnName(i);
  }
  return names;
}

CsvLayout MakeCsvLayoutOfHead(const FileHead& head, const std::vector<ColumnSpec>& specs,
                              const CsvOptions& options) {
  CsvLayout layout;
  if (!options.header) {
    layout.data_begin = DataStart(head) - head.begin();
    layout.field_count = static_cast<int>(specs.size());
    for (int i = 0; i < layout.field_count; ++i) layout.targets.push_back(i);
    return layout;
  }
  TextLine header;
  const std::vector<std::string> names = ReadHeader(head, options, &header);
  if (header.begin == nullptr) {  // an empty file: no rows, nothing to map
    layout.data_begin = static_cast<int64_t>(head.bytes.size());
    layout.field_count = static_cast<int>(specs.size());
    return layout;
  }
  layout.data_begin = header.next - head.begin();
  layout.field_count = static_cast<int>(names.size());
  layout.targets.assign(names.size(), -1);
  for (size_t column = 0; column < specs.size(); ++column) {
    int found = -1;
    for (size_t field = 0; field < names.size(); ++field) {
      if (names[field] != specs[column].name) continue;
      if (found >= 0) {
        throw UserError(head.path + ": the header names column '" + specs[column].name +
                        "' twice");
      }
      found = static_cast<int>(field);
    }
    if (found < 0) {
      std::string listed;
      for (const auto& name : names) listed += (listed.empty() ? "" : ", ") + name;
      throw UserError(head.path + ": the header has no column '" + specs[column].name +
                      "' (it has: " + listed + ")");
    }
    layout.targets[found] = static_cast<int>(column);
  }
  return layout;
}

}  // namespace

CsvLayout MakeCsvLayout(const InputFile& file, const std::vector<ColumnSpec>& specs,
                        const CsvOptions& options) {
  return MakeCsvLayoutOfHead(HeadWithFirstLine(file), specs, options);
}

SchemaPtr InferCsvSchema(const std::vector<std::shared_ptr<const InputFile>>& files,
                         const CsvOptions& options, int64_t max_rows) {
  // Column names: from the first file that has a line.
  std::vector<std::string> names;
  for (const auto& file : files) {
    TextLine first;
    const FileHead head = HeadWithFirstLine(*file);
    if (options.header) {
      names = ReadHeader(head, options, &first);
      for (size_t i = 0; i < names.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (names[i] == names[j]) {
            throw UserError(file->path() + ": the header names column '" + names[i] +
                            "' twice");
          }
        }
      }
    } else {
      first = FirstNonBlankLine(DataStart(head), head.end());
      if (first.begin != nullptr) {
        const int count = CountCsvFields(first.begin, first.end, options.delimiter);
        for (int i = 0; i < count; ++i) names.push_back(DefaultColumnName(i));
      }
    }
    if (first.begin != nullptr) break;
  }

  struct Evidence {
    bool any = false, all_int = true, all_float = true, all_bool = true;
    bool all_timestamps = true, any_zone = false;  // ISO-8601 dates with a time
  };
  std::vector<Evidence> evidence(names.size());
  std::vector<ColumnSpec> specs;
  for (const auto& name : names) specs.push_back(ColumnSpec{name, ColumnKind::kString});
  std::vector<std::string> fields;
  int64_t rows = 0;
  for (const auto& file : files) {
    if (rows >= max_rows) break;
    const FileHead head{file->path(), file->ReadHead(kInferenceHeadBytes)};
    const CsvLayout layout = MakeCsvLayoutOfHead(head, specs, options);
    for (const char* cursor = head.begin() + layout.data_begin;
         cursor < head.end() && rows < max_rows;) {
      const TextLine line = NextLine(cursor, head.end());
      cursor = line.next;
      if (line.begin == line.end) continue;
      // Bad rows are left to the reader, which reports them as on_error says.
      if (SplitCsvLine(line.begin, line.end, options.delimiter, &fields) != nullptr ||
          static_cast<int>(fields.size()) != layout.field_count) {
        continue;
      }
      ++rows;
      for (size_t field = 0; field < fields.size(); ++field) {
        const int column = layout.targets[field];
        const std::string& text = fields[field];
        if (column < 0 || text.empty()) continue;
        Evidence& seen = evidence[column];
        const char* begin = text.data();
        const char* end = begin + text.size();
        int64_t int_value;
        double float_value;
        bool bool_value;
        seen.any = true;
        seen.all_int = seen.all_int && ParseInt64Text(begin, end, &int_value);
        seen.all_float = seen.all_float && ParseFloat64Text(begin, end, &float_value);
        seen.all_bool = seen.all_bool && ParseBoolText(begin, end, &bool_value);
        bool has_zone = false;
        seen.all_timestamps = seen.all_timestamps && IsIsoDateTime(text, &has_zone);
        seen.any_zone = seen.any_zone || has_zone;
      }
    }
  }
  if (rows == 0) {
    std::string listed;
    for (const auto& file : files) listed += (listed.empty() ? "" : ", ") + file->path();
    throw UserError("cannot infer a schema from " + listed +
                    ": it holds no data row (an empty file?); pass a schema");
  }
  arrow::FieldVector result;
  for (size_t i = 0; i < names.size(); ++i) {
    const Evidence& seen = evidence[i];
    std::shared_ptr<arrow::DataType> type = arrow::utf8();
    if (seen.any && seen.all_int) {
      type = arrow::int64();
    } else if (seen.any && seen.all_float) {
      type = arrow::float64();
    } else if (seen.any && seen.all_bool) {
      type = arrow::boolean();
    } else if (seen.any && seen.all_timestamps) {
      type = InferredTimestampType(seen.any_zone);
    }
    result.push_back(arrow::field(names[i], type));
  }
  return arrow::schema(std::move(result));
}

}  // namespace millstream
