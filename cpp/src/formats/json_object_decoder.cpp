#include "formats/json_object_decoder.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "formats/bad_rows.h"
#include "formats/iso_timestamp.h"
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

bool Fail(RowProblem* problem, std::string field, std::string reason) {
  problem->field = std::move(field);
  problem->reason = std::move(reason);
  return false;
}

}  // namespace

JsonObjectDecoder::JsonObjectDecoder(std::vector<ColumnSpec> specs)
    : specs_(std::move(specs)), seen_stamp_(specs_.size(), 0) {
  for (size_t i = 0; i < specs_.size(); ++i) index_.emplace(specs_[i].name, static_cast<int>(i));
}

bool JsonObjectDecoder::DecodeRow(const char* text, size_t length, size_t readable_bytes,
                                  ColumnBuffers& columns, RowProblem* problem) {
  const char* parsed_text = text;
  if (readable_bytes < length + simdjson::SIMDJSON_PADDING) {
    padded_copy_.assign(text, length);
    padded_copy_.resize(length + simdjson::SIMDJSON_PADDING, ' ');
    parsed_text = padded_copy_.data();
  }
  element root;
  const auto error = parser_.parse(parsed_text, length, /*realloc_if_needed=*/false).get(root);
  if (error == simdjson::UTF8_ERROR) {
    return DecodeInvalidUtf8(std::string_view(text, length), columns, problem);
  }
  if (error == simdjson::NUMBER_ERROR || error == simdjson::NUMBER_OUT_OF_RANGE) {
    return DecodeOutOfRangeNumbers(std::string_view(text, length), columns, problem);
  }
  if (error) return Fail(problem, {}, InvalidJsonReason(error));
  return SetRow(root, columns, problem);
}

bool JsonObjectDecoder::SetRow(const element& root, ColumnBuffers& columns, RowProblem* problem) {
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return Fail(problem, {}, "expected a JSON object, " + Got(root));
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
      return Fail(problem, specs_[column].name, std::move(reason));
    }
  }
  for (size_t column = 0; column < specs_.size(); ++column) {
    if (seen_stamp_[column] == stamp_) continue;
    if (specs_[column].required) {
      return Fail(problem, specs_[column].name, "required field is missing");
    }
    columns.SetNull(static_cast<int>(column));
  }
  columns.CommitRow();
  return true;
}

int JsonObjectDecoder::Lookup(std::string_view key, int guess) const {
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

bool JsonObjectDecoder::SetValue(int column, const element& value, ColumnBuffers& columns,
                                 std::string* reason) {
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
        if (spec.integers_refused) {
          *reason = std::string(kIntegerWithoutUnit) + "; " + Got(value);
          return false;
        }
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
bool JsonObjectDecoder::DecodeInvalidUtf8(std::string_view original, ColumnBuffers& columns,
                                          RowProblem* problem) {
  std::string sanitized(original);
  std::vector<size_t> invalid_offsets;
  for (size_t pos = 0; pos < sanitized.size();) {
    const size_t length = Utf8SequenceLength(original, pos);
    if (length == 0) {
      invalid_offsets.push_back(pos);
      sanitized[pos] = '?';  // one byte for one byte: offsets stay those of the document
      ++pos;
    } else {
      pos += length;
    }
  }
  return DecodeRepaired(std::move(sanitized), invalid_offsets, [](size_t) { return std::string("invalid UTF-8"); },
                        columns, problem);
}

// JSON allows numbers that float64 and 64-bit integers cannot hold (1e400, 2^70), and simdjson
// rejects a document holding one as a whole. Such a number in a key the schema does not ask
// for must not lose the row: each is replaced by null (padded to its length) in a copy, and
// one in a field of ours is an error naming it.
bool JsonObjectDecoder::DecodeOutOfRangeNumbers(std::string_view original, ColumnBuffers& columns,
                                                RowProblem* problem) {
  std::string repaired(original);
  std::vector<size_t> bad_offsets;
  std::vector<std::string> bad_numbers;
  bool in_string = false;
  for (size_t pos = 0; pos < original.size(); ++pos) {
    const char c = original[pos];
    if (in_string) {
      if (c == '\\') ++pos;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t end = pos + 1;
    bool integer = true;
    while (end < original.size() && std::strchr("0123456789.eE+-", original[end]) != nullptr) {
      integer &= original[end] >= '0' && original[end] <= '9';
      ++end;
    }
    const char* begin = original.data() + pos;
    bool out_of_range;
    if (integer) {
      int64_t signed_value;
      uint64_t unsigned_value;
      out_of_range = std::from_chars(begin, original.data() + end, signed_value).ec != std::errc() &&
                     std::from_chars(begin, original.data() + end, unsigned_value).ec != std::errc();
    } else {
      const std::string token(begin, end - pos);
      errno = 0;
      const double value = std::strtod(token.c_str(), nullptr);
      out_of_range = std::isinf(value);
    }
    if (out_of_range && end - pos >= 4) {
      bad_offsets.push_back(pos);
      bad_numbers.emplace_back(begin, end - pos);
      repaired.replace(pos, end - pos, "null" + std::string(end - pos - 4, ' '));
    }
    pos = end - 1;
  }
  if (bad_offsets.empty()) return Fail(problem, {}, InvalidJsonReason(simdjson::NUMBER_ERROR));
  return DecodeRepaired(
      std::move(repaired), bad_offsets,
      [&](size_t offset) {
        const size_t i = std::find(bad_offsets.begin(), bad_offsets.end(), offset) - bad_offsets.begin();
        return "the number " + bad_numbers[i] + " is beyond what int64 and float64 hold";
      },
      columns, problem);
}

template <typename ReasonOf>
bool JsonObjectDecoder::DecodeRepaired(std::string repaired, const std::vector<size_t>& bad_offsets,
                                       ReasonOf reason_of, ColumnBuffers& columns, RowProblem* problem) {
  const size_t length = repaired.size();
  repaired.resize(length + simdjson::SIMDJSON_PADDING, ' ');

  // Top-level keys with the offset where each starts (key i spans up to key i + 1).
  std::vector<std::pair<size_t, int>> key_starts;
  bool parsed = false;
  {
    if (!ondemand_parser_) ondemand_parser_ = std::make_unique<simdjson::ondemand::parser>();
    simdjson::ondemand::document document;
    simdjson::ondemand::object object;
    if (!ondemand_parser_->iterate(repaired.data(), length, repaired.size()).get(document) &&
        !document.get_object().get(object)) {
      parsed = true;
      for (auto field_result : object) {
        simdjson::ondemand::field field;
        if (std::move(field_result).get(field)) {
          parsed = false;
          break;
        }
        const size_t key_offset = static_cast<size_t>(field.key().raw() - repaired.data());
        std::string_view key;
        if (field.unescaped_key().get(key)) {
          parsed = false;
          break;
        }
        key_starts.emplace_back(key_offset, Lookup(key, 0));
      }
    }
  }
  if (!parsed || key_starts.empty() || bad_offsets.front() < key_starts.front().first) {
    return Fail(problem, {}, reason_of(bad_offsets.front()));
  }
  for (const size_t offset : bad_offsets) {
    auto after = std::upper_bound(
        key_starts.begin(), key_starts.end(), offset,
        [](size_t value, const std::pair<size_t, int>& start) { return value < start.first; });
    const int column = std::prev(after)->second;
    if (column >= 0) return Fail(problem, specs_[column].name, reason_of(offset));
  }
  element root;
  const auto error = parser_.parse(repaired.data(), length, /*realloc_if_needed=*/false).get(root);
  if (error) return Fail(problem, {}, InvalidJsonReason(error));
  return SetRow(root, columns, problem);
}

}  // namespace millstream
