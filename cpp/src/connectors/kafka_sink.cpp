#include "connectors/kafka_sink.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>

#include <arrow/array.h>
#include <arrow/scalar.h>

#include "core/error.h"
#include "formats/text_encoder.h"

namespace millstream {

namespace {

// How long Finish() waits for the brokers to acknowledge what is still in flight.
constexpr int kFlushTimeoutMs = 60000;

// Deliveries that failed, kept by librdkafka's delivery-report callback.
struct DeliveryFailures {
  std::atomic<int64_t> count{0};
  std::mutex mutex;
  std::string first_error;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* failures = static_cast<DeliveryFailures*>(opaque);
  std::lock_guard<std::mutex> lock(failures->mutex);
  if (failures->count.fetch_add(1) == 0) {
    failures->first_error = rd_kafka_err2str(message->err);
  }
}

class KafkaSink final : public FileSink {
 public:
  KafkaSink(const KafkaSinkOptions& options, SchemaPtr schema)
      : topic_(options.topic), name_("write_kafka(" + options.topic + ")") {
    if (options.topic.empty()) throw UserError("write_kafka: name a topic");
    if (options.format != "json") {
      throw UserError(name_ + ": format must be 'json' (one JSON object a message), got '" +
                      options.format + "'");
    }
    if (!options.key_column.empty()) {
      key_index_ = schema->GetFieldIndex(options.key_column);
      if (key_index_ < 0) {
        throw UserError(name_ + ": key column '" + options.key_column +
                        "' is not in the stream; columns: " + schema->ToString());
      }
      const auto& type = *schema->field(key_index_)->type();
      if (!arrow::is_integer(type.id()) && type.id() != arrow::Type::STRING) {
        throw UserError(name_ + ": key column '" + options.key_column + "' has type " +
                        type.ToString() + "; a key is a string or integer column");
      }
    }
    encoder_ = MakeJsonlEncoder(schema, name_);
    KafkaConfig config = {{"bootstrap.servers", options.brokers},
                          {"enable.idempotence", "true"},
                          {"partitioner", "murmur2_random"}};
    for (const auto& [property, value] : options.config) config[property] = value;
    producer_ = MakeKafkaClient(RD_KAFKA_PRODUCER, config, name_, OnDelivery, &failures_);
    PartitionCount(producer_.get(), topic_, name_);  // an unknown topic fails before the run
  }

  void Write(const BatchPtr& batch) override {
    text_.clear();
    encoder_->AppendBatch(*batch, &text_);
    // One line a row: the encoder escapes newlines inside strings.
    const char* cursor = text_.data();
    const char* const end = text_.data() + text_.size();
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      const char* newline = static_cast<const char*>(std::memchr(cursor, '\n', end - cursor));
      MS_CHECK(newline != nullptr, "the JSON encoder wrote fewer lines than rows");
      Produce(std::string_view(cursor, newline - cursor), KeyOf(*batch, row));
      cursor = newline + 1;
    }
    rd_kafka_poll(producer_.get(), 0);  // serve delivery reports
    ThrowIfFailed();
  }

  void Finish() override {
    const rd_kafka_resp_err_t flushed = rd_kafka_flush(producer_.get(), kFlushTimeoutMs);
    ThrowIfFailed();
    if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw UserError(name_ + ": " + std::to_string(rd_kafka_outq_len(producer_.get())) +
                      " messages were not acknowledged within " +
                      std::to_string(kFlushTimeoutMs / 1000) +
                      " s; check that the brokers are up (they may still be written)");
    }
  }

  void Abort() override {
    // Messages not yet sent are dropped; those in flight may still land (at-least-once).
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE);
  }

 private:
  std::optional<std::string_view> KeyOf(const arrow::RecordBatch& batch, int64_t row) {
    if (key_index_ < 0) return std::nullopt;
    const arrow::Array& column = *batch.column(key_index_);
    if (column.IsNull(row)) return std::nullopt;
    if (column.type_id() == arrow::Type::STRING) {
      return static_cast<const arrow::StringArray&>(column).GetView(row);
    }
    key_text_ = CheckArrow(column.GetScalar(row), "Kafka key")->ToString();
    return key_text_;
  }

  void Produce(std::string_view value, std::optional<std::string_view> key) {
    for (;;) {
      const rd_kafka_resp_err_t error = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY((key ? key->data() : nullptr), (key ? key->size() : 0)),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
      if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        // The producer's queue is bounded: wait for acknowledgements to make room.
        rd_kafka_poll(producer_.get(), 100);
        ThrowIfFailed();
        continue;
      }
      CheckKafka(error, name_, "producing a message");
      return;
    }
  }

  void ThrowIfFailed() {
    if (failures_.count.load() == 0) return;
    std::lock_guard<std::mutex> lock(failures_.mutex);
    throw UserError(name_ + ": " + std::to_string(failures_.count.load()) +
                    " messages could not be delivered to topic '" + topic_ +
                    "': " + failures_.first_error);
  }

  std::string topic_;
  std::string name_;
  int key_index_ = -1;
  std::unique_ptr<TextEncoder> encoder_;
  DeliveryFailures failures_;  // outlives producer_ (declared before it)
  KafkaClient producer_;
  std::string text_;
  std::string key_text_;
};

}  // namespace

std::unique_ptr<FileSink> MakeKafkaSink(const KafkaSinkOptions& options, SchemaPtr schema) {
  return std::make_unique<KafkaSink>(options, std::move(schema));
}

}  // namespace millstream
