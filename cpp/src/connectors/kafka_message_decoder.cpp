#include "connectors/kafka_message_decoder.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "formats/utf8.h"

namespace millstream {

namespace {

std::shared_ptr<arrow::DataType> MetadataType(const std::string& name) {
  if (name == "key") return arrow::utf8();
  if (name == "partition" || name == "offset") return arrow::int64();
  if (name == "timestamp") return arrow::timestamp(arrow::TimeUnit::MILLI);
  if (name == "headers") {
    return arrow::list(arrow::struct_({arrow::field("name", arrow::utf8(), /*nullable=*/false),
                                       arrow::field("value", arrow::binary())}));
  }
  return nullptr;
}

}  // namespace

KafkaFormat ParseKafkaFormat(const std::string& name) {
  if (name == "json") return KafkaFormat::kJson;
  if (name == "csv") return KafkaFormat::kCsv;
  if (name == "raw") return KafkaFormat::kRaw;
  if (name == "string") return KafkaFormat::kString;
  throw UserError("Kafka format must be 'json', 'csv', 'raw' or 'string', got '" + name + "'");
}

SchemaPtr KafkaMessageDecoder::OutputSchema(KafkaFormat format, const SchemaPtr& value_schema,
                                            const std::vector<std::string>& metadata,
                                            const std::string& source_name) {
  arrow::FieldVector fields;
  if (format == KafkaFormat::kJson || format == KafkaFormat::kCsv) {
    if (!value_schema) {
      throw UserError(source_name + ": format '" + (format == KafkaFormat::kJson ? "json" : "csv") +
                      "' needs a schema (the value's fields and types" +
                      (format == KafkaFormat::kCsv ? ", in the record's order" : "") +
                      "), e.g. schema={'id': 'int64', 'price': 'float64'}");
    }
    ColumnSpecsOf(*value_schema, source_name);  // types a text value can hold, or a UserError
    fields = value_schema->fields();
  } else {
    if (value_schema) {
      throw UserError(source_name + ": a schema is for formats 'json' and 'csv'; formats 'raw' "
                      "and 'string' give one column, 'value'");
    }
    fields.push_back(arrow::field(
        "value", format == KafkaFormat::kRaw ? arrow::binary() : arrow::utf8()));
  }
  std::set<std::string> names;
  for (const auto& field : fields) {
    if (!names.insert(field->name()).second) {
      throw UserError(source_name + ": the schema names field '" + field->name() + "' twice");
    }
  }
  for (const std::string& name : metadata) {
    auto type = MetadataType(name);
    if (!type) {
      throw UserError(source_name + ": unknown metadata column '" + name +
                      "'; choose from key, partition, offset, timestamp, headers");
    }
    if (!names.insert(name).second) {
      throw UserError(source_name + ": metadata column '" + name +
                      "' has the name of another column; rename that field in the schema");
    }
    fields.push_back(arrow::field(name, type));
  }
  return arrow::schema(std::move(fields));
}

KafkaMessageDecoder::KafkaMessageDecoder(KafkaFormat format, SchemaPtr value_schema,
                                         std::vector<std::string> metadata, int64_t batch_size,
                                         std::string source_name, OnError on_error,
                                         OperatorMetrics* metrics, char csv_delimiter)
    : format_(format),
      schema_(OutputSchema(format, value_schema, metadata, source_name)),
      batch_size_(batch_size),
      source_name_(std::move(source_name)),
      on_error_(on_error),
      metrics_(metrics) {
  MS_CHECK(batch_size_ > 0, "batch_size must be positive");
  if (format_ == KafkaFormat::kJson || format_ == KafkaFormat::kCsv) {
    auto specs = ColumnSpecsOf(*value_schema, source_name_);
    if (format_ == KafkaFormat::kJson) {
      json_.emplace(specs);
    } else {
      std::vector<int> targets(specs.size());
      for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int>(i);
      csv_.emplace(specs, std::move(targets), csv_delimiter);
    }
    value_columns_.emplace(value_schema, std::move(specs), batch_size_);
  } else if (format_ == KafkaFormat::kRaw) {
    value_builder_ = std::make_unique<arrow::BinaryBuilder>();
  } else {
    value_builder_ = std::make_unique<arrow::StringBuilder>();
  }
  for (const std::string& name : metadata) {
    metadata_.push_back(name == "key"         ? Metadata::kKey
                        : name == "partition" ? Metadata::kPartition
                        : name == "offset"    ? Metadata::kOffset
                        : name == "headers"   ? Metadata::kHeaders
                                              : Metadata::kTimestamp);
    metadata_builders_.push_back(
        CheckArrow(arrow::MakeBuilder(MetadataType(name)), "Kafka metadata builder"));
  }
}

bool KafkaMessageDecoder::wants_headers() const {
  return std::find(metadata_.begin(), metadata_.end(), Metadata::kHeaders) != metadata_.end();
}

void KafkaMessageDecoder::Append(const KafkaMessageView& message) {
  // A key or header name that is not UTF-8 cannot go into a string column: check them before
  // the value commits a row.
  const bool wants_key = std::find(metadata_.begin(), metadata_.end(), Metadata::kKey) != metadata_.end();
  if (wants_key && message.key && !IsValidUtf8(message.key->data(), message.key->size())) {
    ReportBad(message, "key", "invalid UTF-8");
    return;
  }
  if (wants_headers()) {
    for (const auto& header : message.headers) {
      if (!IsValidUtf8(header.first.data(), header.first.size())) {
        ReportBad(message, "headers", "a header name is not UTF-8");
        return;
      }
    }
  }
  if (!AppendValue(message)) return;
  AppendMetadata(message);
  ++rows_;
}

bool KafkaMessageDecoder::AppendValue(const KafkaMessageView& message) {
  if (format_ == KafkaFormat::kJson) {
    if (!message.value) {
      ReportBad(message, {}, "the value is null (a tombstone), expected a JSON object");
      return false;
    }
    // librdkafka's payload is not padded for simdjson: DecodeRow parses from a padded copy.
    if (!json_->DecodeRow(message.value->data(), message.value->size(), message.value->size(),
                          *value_columns_, &problem_)) {
      ReportBad(message, problem_.field, problem_.reason);
      return false;
    }
    return true;
  }
  if (format_ == KafkaFormat::kCsv) {
    if (!message.value) {
      ReportBad(message, {}, "the value is null (a tombstone), expected a CSV record");
      return false;
    }
    // One line end at the end of a record (as line-oriented producers send it) is not a field.
    const char* begin = message.value->data();
    const char* end = begin + message.value->size();
    if (end > begin && end[-1] == '\n') --end;
    if (end > begin && end[-1] == '\r') --end;
    if (!csv_->DecodeRecord(begin, end, /*maybe_non_ascii=*/true, *value_columns_, &problem_)) {
      ReportBad(message, problem_.field, problem_.reason);
      return false;
    }
    value_columns_->CommitRow();
    return true;
  }
  if (!message.value) {
    CheckArrow(value_builder_->AppendNull(), "Kafka value");
    return true;
  }
  if (format_ == KafkaFormat::kString) {
    if (!IsValidUtf8(message.value->data(), message.value->size())) {
      ReportBad(message, {}, "invalid UTF-8 (format 'string' reads text; use format 'raw' for bytes)");
      return false;
    }
    CheckArrow(static_cast<arrow::StringBuilder&>(*value_builder_).Append(*message.value), "Kafka value");
  } else {
    CheckArrow(static_cast<arrow::BinaryBuilder&>(*value_builder_).Append(*message.value), "Kafka value");
  }
  return true;
}

void KafkaMessageDecoder::AppendMetadata(const KafkaMessageView& message) {
  for (size_t i = 0; i < metadata_.size(); ++i) {
    arrow::ArrayBuilder& builder = *metadata_builders_[i];
    switch (metadata_[i]) {
      case Metadata::kKey:
        CheckArrow(message.key ? static_cast<arrow::StringBuilder&>(builder).Append(*message.key)
                               : builder.AppendNull(),
                   "Kafka key");
        break;
      case Metadata::kPartition:
        CheckArrow(static_cast<arrow::Int64Builder&>(builder).Append(message.partition), "Kafka partition");
        break;
      case Metadata::kOffset:
        CheckArrow(static_cast<arrow::Int64Builder&>(builder).Append(message.offset), "Kafka offset");
        break;
      case Metadata::kTimestamp:
        CheckArrow(static_cast<arrow::TimestampBuilder&>(builder).Append(message.timestamp_ms),
                   "Kafka timestamp");
        break;
      case Metadata::kHeaders: {
        auto& list = static_cast<arrow::ListBuilder&>(builder);
        auto& pairs = static_cast<arrow::StructBuilder&>(*list.value_builder());
        auto& names = static_cast<arrow::StringBuilder&>(*pairs.field_builder(0));
        auto& values = static_cast<arrow::BinaryBuilder&>(*pairs.field_builder(1));
        CheckArrow(list.Append(), "Kafka headers");
        for (const auto& [name, value] : message.headers) {
          CheckArrow(pairs.Append(), "Kafka headers");
          CheckArrow(names.Append(name), "Kafka header name");
          CheckArrow(value ? values.Append(*value) : values.AppendNull(), "Kafka header value");
        }
        break;
      }
    }
  }
}

void KafkaMessageDecoder::ReportBad(const KafkaMessageView& message, std::string_view field,
                                    std::string_view reason) {
  if (on_error_ == OnError::kSkip) {
    if (metrics_ != nullptr) ++metrics_->rows_skipped;
    return;
  }
  const std::string place = std::string(message.topic) + "[" + std::to_string(message.partition) +
                            "]@" + std::to_string(message.offset);
  std::string full_reason = field.empty() ? "" : "field '" + std::string(field) + "': ";
  full_reason += reason;
  if (on_error_ == OnError::kRaise) {
    throw UserError(source_name_ + ": " + place + ": " + SanitizeUtf8(full_reason));
  }
  dead_letters_.Append(place, /*line=*/-1, field, full_reason, message.value.value_or(""));
  if (metrics_ != nullptr) ++metrics_->rows_dead_letter;
  if (on_dead_letter_) on_dead_letter_(message, full_reason);
}

BatchPtr KafkaMessageDecoder::FinishRows() {
  if (rows_ == 0) return nullptr;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  if (value_columns_) {
    BatchPtr values = value_columns_->Finish();
    MS_CHECK(values && values->num_rows() == rows_, "value rows out of step with metadata");
    arrays = values->columns();
  } else {
    arrays.push_back(CheckArrow(value_builder_->Finish(), "Kafka value"));
  }
  for (auto& builder : metadata_builders_) {
    arrays.push_back(CheckArrow(builder->Finish(), "Kafka metadata"));
  }
  BatchPtr batch = arrow::RecordBatch::Make(schema_, rows_, std::move(arrays));
  rows_ = 0;
  return batch;
}

}  // namespace millstream
