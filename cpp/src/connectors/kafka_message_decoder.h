// Kafka messages into columnar batches: the value's columns (a flat JSON object decoded by
// formats/json_object_decoder.h, a CSV record decoded by formats/csv_record_decoder.h, or the
// whole value as one column) followed by the metadata
// columns asked for (key, partition, offset, timestamp, headers). A bad message is reported as on_error
// says, named by its place in Kafka: "bids[3]@1207: field 'price': expected float64, got "x"".
// Kept apart from librdkafka so that it is tested without a cluster.
//
//   KafkaMessageDecoder decoder(KafkaFormat::kJson, value_schema, {"partition", "offset"},
//                               65536, "read_kafka(bids)", OnError::kRaise, metrics);
//   decoder.Append({.topic = "bids", .partition = 0, .offset = 7, .value = R"({"id": 1})"});
//   BatchPtr rows = decoder.FinishRows();   // id, partition, offset
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/builder.h>

#include "core/bad_input.h"
#include "core/metrics.h"
#include "formats/bad_rows.h"
#include "formats/column_buffers.h"
#include "formats/csv_record_decoder.h"
#include "formats/json_object_decoder.h"

namespace millstream {

// How a message's value becomes columns: a flat JSON object or one CSV record (no header; its
// fields are the schema's columns in order; one trailing line end is ignored), or the whole
// value as one column `value` (binary for raw, UTF-8 text for string).
enum class KafkaFormat { kJson, kCsv, kRaw, kString };
KafkaFormat ParseKafkaFormat(const std::string& name);  // "json" | "csv" | "raw" | "string"

// One message as the decoder needs it (views into librdkafka's message, or a test's strings).
struct KafkaMessageView {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string_view> key;    // none: a null key
  std::optional<std::string_view> value;  // none: a null value (a tombstone)
  int64_t timestamp_ms = 0;
  // (name, value) in the message's order; filled only when the decoder wants_headers() or the
  // source sends bad messages to a dead-letter topic (which carries them over).
  std::vector<std::pair<std::string_view, std::optional<std::string_view>>> headers;
};

// Called with each bad message under on_error "dead_letter" (after it went to the
// dead-letter rows), with the reason as the rows give it: a Kafka dead-letter topic.
using BadMessageListener = std::function<void(const KafkaMessageView&, std::string_view reason)>;

class KafkaMessageDecoder {
 public:
  // The output schema: the value's columns (format json, csv: `value_schema`; raw: value binary;
  // string: value string), then the metadata columns ("headers": list<struct<name: string,
  // value: binary>>, in the message's order, as names may repeat). A metadata name other than
  // key, partition, offset, timestamp or headers, or one that repeats a column, is a
  // UserError naming `source_name`.
  static SchemaPtr OutputSchema(KafkaFormat format, const SchemaPtr& value_schema,
                                const std::vector<std::string>& metadata,
                                const std::string& source_name);

  // `csv_delimiter`: the field delimiter of format csv.
  KafkaMessageDecoder(KafkaFormat format, SchemaPtr value_schema, std::vector<std::string> metadata,
                      int64_t batch_size, std::string source_name, OnError on_error,
                      OperatorMetrics* metrics, char csv_delimiter = ',');

  // Adds the message as a row, or reports it as bad (throws UserError when on_error is raise).
  void Append(const KafkaMessageView& message);
  void OnDeadLetter(BadMessageListener listener) { on_dead_letter_ = std::move(listener); }
  bool wants_headers() const;
  bool full() const { return rows_ >= batch_size_; }
  int64_t room() const { return batch_size_ - rows_; }  // rows the batch can still take
  int64_t rows() const { return rows_; }
  // The rows since the last call (null when none); the bad messages sent to dead letters.
  BatchPtr FinishRows();
  BatchPtr FinishDeadLetters() { return dead_letters_.Finish(); }

 private:
  enum class Metadata { kKey, kPartition, kOffset, kTimestamp, kHeaders };
  bool AppendValue(const KafkaMessageView& message);
  void AppendMetadata(const KafkaMessageView& message);
  void ReportBad(const KafkaMessageView& message, std::string_view field, std::string_view reason);

  const KafkaFormat format_;
  const SchemaPtr schema_;  // the output's
  const int64_t batch_size_;
  const std::string source_name_;
  const OnError on_error_;
  OperatorMetrics* metrics_;
  std::optional<JsonObjectDecoder> json_;    // format json
  std::optional<CsvRecordDecoder> csv_;      // format csv
  std::optional<ColumnBuffers> value_columns_;  // format json or csv
  RowProblem problem_;
  std::unique_ptr<arrow::ArrayBuilder> value_builder_;  // format raw (binary) or string
  std::vector<Metadata> metadata_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> metadata_builders_;
  DeadLetterBuilder dead_letters_;
  BadMessageListener on_dead_letter_;
  int64_t rows_ = 0;
};

}  // namespace millstream
