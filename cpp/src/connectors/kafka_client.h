// Owning handles over librdkafka's C API and the few calls the Kafka source, the Kafka sink and
// the test cluster (MockKafkaCluster) share: making a client from a property map with errors
// that name the property, topic metadata, and turning a librdkafka error into a UserError.
//
//   KafkaClient consumer = MakeKafkaClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", brokers},
//                                          {"group.id", "g"}}, "read_kafka(events)");
//   int partitions = PartitionCount(consumer.get(), "events", "read_kafka(events)");
#pragma once

#include <librdkafka/rdkafka.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace millstream {

struct KafkaClientDeleter {
  void operator()(rd_kafka_t* client) const { rd_kafka_destroy(client); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
struct KafkaMessageDeleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};
struct KafkaQueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};
using KafkaClient = std::unique_ptr<rd_kafka_t, KafkaClientDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaMessageDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaQueueDeleter>;

// librdkafka configuration properties, e.g. {"bootstrap.servers", "127.0.0.1:9092"}.
using KafkaConfig = std::map<std::string, std::string>;

// How long metadata, watermark, offset and commit requests may take before the run fails.
constexpr int kKafkaRequestTimeoutMs = 10000;

// librdkafka's delivery-report callback: called for each produced message, from rd_kafka_poll.
using DeliveryCallback = void (*)(rd_kafka_t*, const rd_kafka_message_t*, void* opaque);

// librdkafka's rebalance callback: called for a subscribed consumer's assigned and revoked
// partitions, from the poll of its main queue.
using RebalanceCallback = void (*)(rd_kafka_t*, rd_kafka_resp_err_t,
                                   rd_kafka_topic_partition_list_t*, void* opaque);

// A producer or consumer configured with `config` (and, for a producer, `on_delivery` called
// with `opaque`; for a consumer, `on_rebalance`). A property librdkafka does not know or a
// value it refuses is a UserError naming `context` and the property.
KafkaClient MakeKafkaClient(rd_kafka_type_t type, const KafkaConfig& config,
                            const std::string& context, DeliveryCallback on_delivery = nullptr,
                            void* opaque = nullptr, RebalanceCallback on_rebalance = nullptr);

// Throws UserError "<context>: <what>: <librdkafka's message>" unless `error` is NO_ERROR.
void CheckKafka(rd_kafka_resp_err_t error, const std::string& context, const std::string& what);

// The partition count of `topic`, from the cluster's metadata; a topic the cluster does not
// have is a UserError naming it.
int PartitionCount(rd_kafka_t* client, const std::string& topic, const std::string& context);

// Calls `visit(name, value)` for each header of `message`, in order (value: none for a null
// value). The views point into the message.
void ForEachHeader(const rd_kafka_message_t& message,
                   const std::function<void(std::string_view, std::optional<std::string_view>)>& visit);

// "topic[partition]", as errors and dead letters name a partition.
std::string PartitionName(const std::string& topic, int32_t partition);

}  // namespace millstream
