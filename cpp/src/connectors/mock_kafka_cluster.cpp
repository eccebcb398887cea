#include "connectors/mock_kafka_cluster.h"

#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "core/error.h"

namespace millstream {

namespace {

constexpr const char* kContext = "MockKafka";

// Counts a producer's outstanding deliveries and keeps the first failure.
struct DeliveryTally {
  std::atomic<int64_t> failed{0};
  std::string first_error;  // written once, by librdkafka's thread, before `failed` is raised
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* tally = static_cast<DeliveryTally*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (tally->failed.load() == 0) tally->first_error = rd_kafka_err2str(message->err);
  tally->failed.fetch_add(1);
}

}  // namespace

MockKafkaCluster::MockKafkaCluster(int brokers) {
  if (brokers < 1) throw UserError("MockKafka: brokers must be at least 1");
  owner_ = MakeKafkaClient(RD_KAFKA_PRODUCER, {{"log_level", "3"}}, kContext);
  cluster_ = rd_kafka_mock_cluster_new(owner_.get(), brokers);
  MS_CHECK(cluster_ != nullptr, "rd_kafka_mock_cluster_new failed");
}

MockKafkaCluster::~MockKafkaCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

std::string MockKafkaCluster::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void MockKafkaCluster::CreateTopic(const std::string& topic, int partitions) {
  if (partitions < 1) throw UserError("MockKafka: a topic needs at least one partition");
  CheckKafka(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1), kContext,
             "creating topic '" + topic + "'");
}

void MockKafkaCluster::BrokerDown(int broker_id) {
  CheckKafka(rd_kafka_mock_broker_set_down(cluster_, broker_id), kContext,
             "taking broker " + std::to_string(broker_id) + " down");
}

void MockKafkaCluster::BrokerUp(int broker_id) {
  CheckKafka(rd_kafka_mock_broker_set_up(cluster_, broker_id), kContext,
             "bringing broker " + std::to_string(broker_id) + " up");
}

void MockKafkaCluster::Produce(const std::string& topic, const std::vector<KafkaRecord>& records) {
  DeliveryTally tally;
  // A producer per call: its delivery reports belong to this call's tally.
  KafkaClient producer = MakeKafkaClient(RD_KAFKA_PRODUCER,
                                         {{"bootstrap.servers", bootstrap_servers()},
                                          {"partitioner", "murmur2_random"},
                                          {"linger.ms", "5"},
                                          {"log_level", "3"}},
                                         kContext, OnDelivery, &tally);
  for (const KafkaRecord& record : records) {
    rd_kafka_headers_t* headers = nullptr;
    if (!record.headers.empty()) {
      headers = rd_kafka_headers_new(record.headers.size());
      for (const auto& [name, value] : record.headers) {
        rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                            static_cast<ssize_t>(value.size()));
      }
    }
    for (;;) {
      const rd_kafka_resp_err_t error = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_PARTITION((record.partition < 0 ? RD_KAFKA_PARTITION_UA : record.partition)),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY((record.key ? record.key->data() : nullptr), (record.key ? record.key->size() : 0)),
          RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_TIMESTAMP(record.timestamp_ms), RD_KAFKA_V_END);
      if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer.get(), 10);  // serve delivery reports to make room
        continue;
      }
      if (error != RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) rd_kafka_headers_destroy(headers);
      CheckKafka(error, kContext, "producing to topic '" + topic + "'");
      break;
    }
  }
  CheckKafka(rd_kafka_flush(producer.get(), 30000), kContext,
             "waiting for topic '" + topic + "' to acknowledge the records");
  if (tally.failed.load() > 0) {
    throw UserError("MockKafka: " + std::to_string(tally.failed.load()) + " records to topic '" +
                    topic + "' were not delivered: " + tally.first_error);
  }
}

std::vector<KafkaRecord> MockKafkaCluster::Consume(const std::string& topic, int timeout_ms) {
  KafkaClient consumer = MakeKafkaClient(RD_KAFKA_CONSUMER,
                                         {{"bootstrap.servers", bootstrap_servers()},
                                          {"group.id", "millstream-mock-consume"},
                                          {"enable.auto.commit", "false"},
                                          {"enable.partition.eof", "true"},
                                          {"log_level", "3"}},
                                         kContext);
  const int partitions = PartitionCount(consumer.get(), topic, kContext);
  std::vector<std::vector<KafkaRecord>> by_partition(partitions);
  // Offsets may have gaps (transaction markers): a partition is done when the next offset to
  // read (from a message, or from the end-of-partition event) reaches its end offset.
  std::vector<int64_t> next_offsets(partitions), end_offsets(partitions);
  PartitionList assignment(rd_kafka_topic_partition_list_new(partitions));
  for (int partition = 0; partition < partitions; ++partition) {
    int64_t low = 0, high = 0;
    CheckKafka(rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), partition, &low,
                                                &high, kKafkaRequestTimeoutMs),
               kContext, "reading the offsets of " + PartitionName(topic, partition));
    next_offsets[partition] = low;
    end_offsets[partition] = high;
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset = low;
  }
  CheckKafka(rd_kafka_assign(consumer.get(), assignment.get()), kContext,
             "assigning the partitions of '" + topic + "'");
  auto unfinished = [&] {
    int count = 0;
    for (int partition = 0; partition < partitions; ++partition) {
      count += next_offsets[partition] < end_offsets[partition];
    }
    return count;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (unfinished() > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw UserError("MockKafka: " + std::to_string(unfinished()) + " partitions of topic '" +
                      topic + "' did not reach their end offsets within " +
                      std::to_string(timeout_ms) + " ms");
    }
    KafkaMessage message(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!message) continue;
    const int32_t partition = message->partition;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      next_offsets[partition] = std::max(next_offsets[partition], message->offset);
      continue;
    }
    CheckKafka(message->err, kContext, "reading topic '" + topic + "'");
    if (message->offset >= end_offsets[partition]) continue;  // written after the call began
    next_offsets[partition] = message->offset + 1;
    KafkaRecord record;
    if (message->key != nullptr) record.key.emplace(static_cast<const char*>(message->key), message->key_len);
    record.value.assign(static_cast<const char*>(message->payload), message->len);
    record.partition = partition;
    record.offset = message->offset;
    record.timestamp_ms = rd_kafka_message_timestamp(message.get(), nullptr);
    ForEachHeader(*message, [&record](std::string_view name, std::optional<std::string_view> value) {
      record.headers.emplace_back(std::string(name), std::string(value.value_or("")));
    });
    by_partition[partition].push_back(std::move(record));
  }
  rd_kafka_consumer_close(consumer.get());
  std::vector<KafkaRecord> records;
  for (auto& partition_records : by_partition) {
    for (auto& record : partition_records) records.push_back(std::move(record));
  }
  return records;
}

}  // namespace millstream
