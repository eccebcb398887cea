#include "connectors/kafka_dead_letter_topic.h"

#include "core/error.h"

namespace millstream {

namespace {

// How long Flush() waits for the brokers to acknowledge the dead letters in flight.
constexpr int kFlushTimeoutMs = 60000;

}  // namespace

KafkaDeadLetterTopic::KafkaDeadLetterTopic(std::string topic, const KafkaConfig& config,
                                           std::string source_name)
    : topic_(std::move(topic)), source_name_(std::move(source_name)) {
  KafkaConfig producer_config = config;
  producer_config["enable.idempotence"] = "true";
  producer_ = MakeKafkaClient(RD_KAFKA_PRODUCER, producer_config, source_name_, OnDelivery, this);
  PartitionCount(producer_.get(), topic_, source_name_ + ": dead_letter_topic");
}

void KafkaDeadLetterTopic::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message,
                                      void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* self = static_cast<KafkaDeadLetterTopic*>(opaque);
  std::lock_guard<std::mutex> lock(self->mutex_);
  if (self->failures_.fetch_add(1) == 0) self->first_error_ = rd_kafka_err2str(message->err);
}

void KafkaDeadLetterTopic::Send(const KafkaMessageView& message, std::string_view reason) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(4 + message.headers.size());
  for (const auto& [name, value] : message.headers) {
    rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()),
                        value ? value->data() : nullptr, value ? static_cast<ssize_t>(value->size()) : 0);
  }
  const std::string partition = std::to_string(message.partition);
  const std::string offset = std::to_string(message.offset);
  rd_kafka_header_add(headers, "millstream.reason", -1, reason.data(), static_cast<ssize_t>(reason.size()));
  rd_kafka_header_add(headers, "millstream.topic", -1, message.topic.data(),
                      static_cast<ssize_t>(message.topic.size()));
  rd_kafka_header_add(headers, "millstream.partition", -1, partition.data(), -1);
  rd_kafka_header_add(headers, "millstream.offset", -1, offset.data(), -1);
  // librdkafka's argument macros do not parenthesise their arguments: plain locals.
  const void* key = message.key ? message.key->data() : nullptr;
  const size_t key_size = message.key ? message.key->size() : 0;
  void* value = message.value ? const_cast<char*>(message.value->data()) : nullptr;
  const size_t value_size = message.value ? message.value->size() : 0;
  for (;;) {
    const rd_kafka_resp_err_t error = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_.get(), 100);  // the queue is bounded: make room
      ThrowIfFailed();
      continue;
    }
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);  // not taken
    CheckKafka(error, source_name_, "sending a bad message to dead_letter_topic '" + topic_ + "'");
    break;
  }
  rd_kafka_poll(producer_.get(), 0);
  ThrowIfFailed();
}

void KafkaDeadLetterTopic::Flush() {
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(producer_.get(), kFlushTimeoutMs);
  ThrowIfFailed();
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw UserError(source_name_ + ": " + std::to_string(rd_kafka_outq_len(producer_.get())) +
                    " bad messages were not acknowledged by dead_letter_topic '" + topic_ +
                    "' within " + std::to_string(kFlushTimeoutMs / 1000) +
                    " s; check that the brokers are up (the offsets are not committed)");
  }
}

void KafkaDeadLetterTopic::ThrowIfFailed() {
  if (failures_.load() == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  throw UserError(source_name_ + ": " + std::to_string(failures_.load()) +
                  " bad messages could not be sent to dead_letter_topic '" + topic_ + "': " +
                  first_error_ + " (the offsets are not committed)");
}

}  // namespace millstream
