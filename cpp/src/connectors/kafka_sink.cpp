#include "connectors/kafka_sink.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include <arrow/array.h>
#include <arrow/scalar.h>

#include "connectors/position_bytes.h"
#include "core/error.h"
#include "core/snapshot.h"
#include "formats/text_encoder.h"

namespace millstream {

namespace {

// How long Finish() waits for the brokers to acknowledge what is still in flight.
constexpr int kFlushTimeoutMs = 60000;
// How long a transaction's init, commit or abort may take.
constexpr int kTransactionTimeoutMs = 60000;

// In a checkpoint's directory (kafka_sink.h): the open transaction's messages, and the mark
// written once that transaction committed.
constexpr std::string_view kTransactionFileName = "transaction";
constexpr std::string_view kCommittedFileName = "committed";
constexpr std::string_view kTransactionTag = "millstream-kafka-sink-transaction-v1";

// A message as the sink produced it (the transactional sink keeps them until their commit).
struct OutgoingMessage {
  std::optional<std::string> key;
  std::string value;
};

std::string PathIn(const std::string& directory, std::string_view name) {
  return (std::filesystem::path(directory) / name).string();
}

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
    if (!options.transactional_id.empty()) config["transactional.id"] = options.transactional_id;
    for (const auto& [property, value] : options.config) config[property] = value;
    transactional_ = config.contains("transactional.id") && !config["transactional.id"].empty();
    producer_ = MakeKafkaClient(RD_KAFKA_PRODUCER, config, name_, OnDelivery, &failures_);
    PartitionCount(producer_.get(), topic_, name_);  // an unknown topic fails before the run
    // Fences an earlier producer of the same id and aborts the transaction it left open.
    if (transactional_) {
      CheckTransaction(rd_kafka_init_transactions(producer_.get(), kTransactionTimeoutMs),
                       "initialising transactions");
    }
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
    if (transactional_) {
      if (barrier_pending_) CommitPrepared();
      if (in_transaction_) CommitTransaction();
      return;
    }
    FlushAll();
  }

  void Abort() override {
    // Messages not yet sent are dropped; those in flight may still land (at-least-once).
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE);
    if (transactional_ && in_transaction_) {
      in_transaction_ = false;
      // Best effort: a producer that cannot abort is fenced by the next run's init anyway.
      if (rd_kafka_error_t* error = rd_kafka_abort_transaction(producer_.get(), kTransactionTimeoutMs)) {
        rd_kafka_error_destroy(error);
      }
    }
  }

  void PrepareCheckpoint(const SnapshotTarget& target) override {
    FlushAll();
    if (!transactional_) return;  // at-least-once: acknowledged is all it can promise
    MS_CHECK(!barrier_pending_, "a checkpoint prepared before the previous one was committed");
    WriteFileAtomically(PathIn(target.directory, kTransactionFileName), EncodeMessages(in_flight_));
    barrier_pending_ = true;
    prepared_directory_ = target.directory;
  }

  void CommitCheckpoint(int64_t) override {
    if (!transactional_ || !barrier_pending_) return;
    CommitPrepared();
  }

  // The transaction of the checkpoint restored from, if it never committed, is sent again (the
  // restored producer's init aborted what the crashed one left open).
  void Restore(const std::string& directory) override {
    if (!transactional_) return;
    if (std::filesystem::exists(PathIn(directory, kCommittedFileName))) return;
    const std::string path = PathIn(directory, kTransactionFileName);
    PositionReader record(ReadWholeFile(path), kTransactionTag, path);
    const int64_t count = record.GetInt();
    for (int64_t i = 0; i < count; ++i) {
      OutgoingMessage message;
      if (record.GetInt() != 0) message.key = record.GetString();
      message.value = record.GetString();
      Send(message);
    }
    record.ExpectEnd();
    FlushAll();
    CommitTransaction();
    WriteFileAtomically(PathIn(directory, kCommittedFileName), "");
  }

 private:
  // Commits the transaction of the prepared checkpoint, marks it committed in the checkpoint,
  // and sends what was held back since the barrier (in the next transaction).
  void CommitPrepared() {
    if (in_transaction_) CommitTransaction();
    WriteFileAtomically(PathIn(prepared_directory_, kCommittedFileName), "");
    barrier_pending_ = false;
    std::vector<OutgoingMessage> held = std::move(held_);
    held_.clear();
    for (const OutgoingMessage& message : held) Send(message);
  }

  void CommitTransaction() {
    FlushAll();
    CheckTransaction(rd_kafka_commit_transaction(producer_.get(), kTransactionTimeoutMs),
                     "committing the transaction of a checkpoint");
    in_transaction_ = false;
    in_flight_.clear();
  }

  static std::string EncodeMessages(const std::vector<OutgoingMessage>& messages) {
    PositionWriter writer(kTransactionTag);
    writer.PutInt(static_cast<int64_t>(messages.size()));
    for (const OutgoingMessage& message : messages) {
      writer.PutInt(message.key ? 1 : 0);
      if (message.key) writer.PutString(*message.key);
      writer.PutString(message.value);
    }
    return writer.Take();
  }

  void CheckTransaction(rd_kafka_error_t* error, const std::string& what) {
    if (error == nullptr) return;
    const std::string message = rd_kafka_error_string(error);
    const bool fatal = rd_kafka_error_is_fatal(error);
    rd_kafka_error_destroy(error);
    throw UserError(name_ + ": " + what + ": " + message +
                    (fatal ? " (another run with the same transactional id took over?)" : ""));
  }

  void FlushAll() {
    const rd_kafka_resp_err_t flushed = rd_kafka_flush(producer_.get(), kFlushTimeoutMs);
    ThrowIfFailed();
    if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw UserError(name_ + ": " + std::to_string(rd_kafka_outq_len(producer_.get())) +
                      " messages were not acknowledged within " +
                      std::to_string(kFlushTimeoutMs / 1000) +
                      " s; check that the brokers are up (they may still be written)");
    }
  }

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
    if (!transactional_) {
      ProduceNow(value, key);
      return;
    }
    OutgoingMessage message{key ? std::optional<std::string>(std::string(*key)) : std::nullopt,
                            std::string(value)};
    if (barrier_pending_) {
      held_.push_back(std::move(message));  // after the barrier: the next transaction's
      return;
    }
    Send(message);
  }

  // Into the open transaction (begun now if none is).
  void Send(const OutgoingMessage& message) {
    if (!in_transaction_) {
      CheckTransaction(rd_kafka_begin_transaction(producer_.get()), "beginning a transaction");
      in_transaction_ = true;
    }
    ProduceNow(message.value,
               message.key ? std::optional<std::string_view>(*message.key) : std::nullopt);
    in_flight_.push_back(message);
  }

  void ProduceNow(std::string_view value, std::optional<std::string_view> key) {
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
  bool transactional_ = false;
  bool in_transaction_ = false;
  bool barrier_pending_ = false;  // prepared, not committed yet: new messages are held back
  std::string prepared_directory_;
  std::vector<OutgoingMessage> in_flight_;  // of the open transaction
  std::vector<OutgoingMessage> held_;       // since the barrier
};

}  // namespace

std::unique_ptr<FileSink> MakeKafkaSink(const KafkaSinkOptions& options, SchemaPtr schema) {
  return std::make_unique<KafkaSink>(options, std::move(schema));
}

}  // namespace millstream
