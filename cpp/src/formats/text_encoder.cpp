#include "formats/text_encoder.h"

#include <charconv>
#include <cmath>
#include <functional>

#include <arrow/array.h>

#include "core/error.h"
#include "core/json_string.h"
#include "formats/iso_timestamp.h"

namespace millstream {

namespace {

enum class Dialect { kCsv, kJson };

// Writes the value at `row` (never null: nulls are handled by the caller).
using CellWriter = std::function<void(int64_t row, std::string* out)>;

bool HasTextForm(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT8: case arrow::Type::INT16: case arrow::Type::INT32:
    case arrow::Type::INT64: case arrow::Type::UINT8: case arrow::Type::UINT16:
    case arrow::Type::UINT32: case arrow::Type::UINT64: case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE: case arrow::Type::BOOL: case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING: case arrow::Type::TIMESTAMP:
      return true;
    default:
      return false;
  }
}

void CheckSchema(const arrow::Schema& schema, const std::string& sink_name, const char* format) {
  for (const auto& field : schema.fields()) {
    if (!HasTextForm(*field->type())) {
      throw UserError(sink_name + ": column '" + field->name() + "' has type " +
                      field->type()->ToString() + ", which " + format +
                      " cannot hold (cast it to a string first, or write Parquet)");
    }
  }
}

template <typename Number>
void AppendNumber(Number value, std::string* out) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);  // shortest exact form
  out->append(buffer, result.ptr);
}

void AppendCsvText(std::string_view text, char delimiter, std::string* out) {
  bool needs_quotes = text.empty();  // "" is an empty string; an empty field is a null
  for (const char c : text) {
    if (c == delimiter || c == '"' || c == '\n' || c == '\r') {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out->append(text);
    return;
  }
  out->push_back('"');
  for (const char c : text) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

template <typename ArrayType>
CellWriter IntegerWriter(const arrow::Array& array) {
  const auto* typed = static_cast<const ArrayType*>(&array);
  return [typed](int64_t row, std::string* out) { AppendNumber(typed->Value(row), out); };
}

// The shortest form that reads back as the same float, and as a float: a whole value keeps a
// ".0" (35.0, not 35), else a reader (ours, pandas, DuckDB) infers an int64 column on the way
// back. Exponent forms (1e+20) and nan/inf already read as floats.
template <typename Float>
void AppendFloat(Float value, std::string* out) {
  const size_t start = out->size();
  AppendNumber(value, out);
  if (out->find_first_of(".en", start) == std::string::npos) out->append(".0");
}

template <typename ArrayType>
CellWriter FloatWriter(const arrow::Array& array, Dialect dialect) {
  const auto* typed = static_cast<const ArrayType*>(&array);
  return [typed, dialect](int64_t row, std::string* out) {
    const auto value = typed->Value(row);
    if (dialect == Dialect::kJson && !std::isfinite(value)) {
      out->append("null");  // JSON has no NaN or infinity: pandas' to_json writes null too
    } else {
      AppendFloat(value, out);
    }
  };
}

template <typename ArrayType>
CellWriter StringWriter(const arrow::Array& array, Dialect dialect, char delimiter) {
  const auto* typed = static_cast<const ArrayType*>(&array);
  if (dialect == Dialect::kJson) {
    return [typed](int64_t row, std::string* out) { AppendJsonString(typed->GetView(row), out); };
  }
  return [typed, delimiter](int64_t row, std::string* out) {
    AppendCsvText(typed->GetView(row), delimiter, out);
  };
}

CellWriter MakeCellWriter(const arrow::Array& array, Dialect dialect, char delimiter) {
  switch (array.type_id()) {
    case arrow::Type::INT8: return IntegerWriter<arrow::Int8Array>(array);
    case arrow::Type::INT16: return IntegerWriter<arrow::Int16Array>(array);
    case arrow::Type::INT32: return IntegerWriter<arrow::Int32Array>(array);
    case arrow::Type::INT64: return IntegerWriter<arrow::Int64Array>(array);
    case arrow::Type::UINT8: return IntegerWriter<arrow::UInt8Array>(array);
    case arrow::Type::UINT16: return IntegerWriter<arrow::UInt16Array>(array);
    case arrow::Type::UINT32: return IntegerWriter<arrow::UInt32Array>(array);
    case arrow::Type::UINT64: return IntegerWriter<arrow::UInt64Array>(array);
    case arrow::Type::FLOAT: return FloatWriter<arrow::FloatArray>(array, dialect);
    case arrow::Type::DOUBLE: return FloatWriter<arrow::DoubleArray>(array, dialect);
    case arrow::Type::BOOL: {
      const auto* typed = static_cast<const arrow::BooleanArray*>(&array);
      return [typed](int64_t row, std::string* out) {
        out->append(typed->Value(row) ? "true" : "false");
      };
    }
    case arrow::Type::STRING: return StringWriter<arrow::StringArray>(array, dialect, delimiter);
    case arrow::Type::LARGE_STRING:
      return StringWriter<arrow::LargeStringArray>(array, dialect, delimiter);
    case arrow::Type::TIMESTAMP: {
      const auto* typed = static_cast<const arrow::TimestampArray*>(&array);
      const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
      const arrow::TimeUnit::type unit = type.unit();
      const bool utc_suffix = !type.timezone().empty();
      const bool quoted = dialect == Dialect::kJson;
      return [typed, unit, utc_suffix, quoted](int64_t row, std::string* out) {
        if (quoted) out->push_back('"');
        AppendIsoTimestamp(typed->Value(row), unit, utc_suffix, out);
        if (quoted) out->push_back('"');
      };
    }
    default:
      break;
  }
  MS_CHECK(false, "a column type without a text form passed the schema check: " +
                      array.type()->ToString());
  return {};
}

void CheckBatch(const arrow::Schema& schema, const arrow::RecordBatch& batch) {
  MS_CHECK(batch.num_columns() == schema.num_fields(), "a batch with the sink's column count");
  for (int i = 0; i < schema.num_fields(); ++i) {
    MS_CHECK(batch.column(i)->type()->Equals(*schema.field(i)->type()),
             "column '" + schema.field(i)->name() + "' has type " +
                 batch.column(i)->type()->ToString() + ", the sink expects " +
                 schema.field(i)->type()->ToString());
  }
}

class CsvEncoder final : public TextEncoder {
 public:
  CsvEncoder(SchemaPtr schema, char delimiter) : schema_(std::move(schema)), delimiter_(delimiter) {}

  void AppendPrologue(std::string* out) const override {
    for (int i = 0; i < schema_->num_fields(); ++i) {
      if (i > 0) out->push_back(delimiter_);
      AppendCsvText(schema_->field(i)->name(), delimiter_, out);
    }
    out->push_back('\n');
  }

  void AppendBatch(const arrow::RecordBatch& batch, std::string* out) const override {
    CheckBatch(*schema_, batch);
    std::vector<CellWriter> writers;
    for (const auto& column : batch.columns()) {
      writers.push_back(MakeCellWriter(*column, Dialect::kCsv, delimiter_));
    }
    const int columns = batch.num_columns();
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      for (int i = 0; i < columns; ++i) {
        if (i > 0) out->push_back(delimiter_);
        if (batch.column(i)->IsValid(row)) writers[i](row, out);  // a null is an empty field
      }
      out->push_back('\n');
    }
  }

 private:
  SchemaPtr schema_;
  char delimiter_;
};

class JsonlEncoder final : public TextEncoder {
 public:
  explicit JsonlEncoder(SchemaPtr schema) : schema_(std::move(schema)) {
    for (int i = 0; i < schema_->num_fields(); ++i) {
      std::string key = i == 0 ? "{" : ",";
      AppendJsonString(schema_->field(i)->name(), &key);
      key.push_back(':');
      keys_.push_back(std::move(key));
    }
  }

  void AppendPrologue(std::string*) const override {}

  void AppendBatch(const arrow::RecordBatch& batch, std::string* out) const override {
    CheckBatch(*schema_, batch);
    std::vector<CellWriter> writers;
    for (const auto& column : batch.columns()) {
      writers.push_back(MakeCellWriter(*column, Dialect::kJson, ','));
    }
    const int columns = batch.num_columns();
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      if (columns == 0) out->push_back('{');
      for (int i = 0; i < columns; ++i) {
        out->append(keys_[i]);
        if (batch.column(i)->IsValid(row)) {
          writers[i](row, out);
        } else {
          out->append("null");
        }
      }
      out->append("}\n");
    }
  }

 private:
  SchemaPtr schema_;
  std::vector<std::string> keys_;  // {"name": for the first column, ,"name": for the others
};

}  // namespace

std::unique_ptr<TextEncoder> MakeCsvEncoder(SchemaPtr schema, const std::string& sink_name,
                                            char delimiter) {
  CheckSchema(*schema, sink_name, "CSV");
  return std::make_unique<CsvEncoder>(std::move(schema), delimiter);
}

std::unique_ptr<TextEncoder> MakeJsonlEncoder(SchemaPtr schema, const std::string& sink_name) {
  CheckSchema(*schema, sink_name, "JSON Lines");
  return std::make_unique<JsonlEncoder>(std::move(schema));
}

}  // namespace millstream
