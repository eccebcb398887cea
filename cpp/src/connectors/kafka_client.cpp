#include "connectors/kafka_client.h"

#include "core/error.h"

namespace millstream {

KafkaClient MakeKafkaClient(rd_kafka_type_t type, const KafkaConfig& config,
                            const std::string& context, DeliveryCallback on_delivery,
                            void* opaque, RebalanceCallback on_rebalance) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (on_delivery != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  if (on_rebalance != nullptr) rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_opaque(conf, opaque);
  char message[512];
  for (const auto& [name, value] : config) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), message, sizeof(message)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw UserError(context + ": Kafka property '" + name + "' = '" + value + "': " + message);
    }
  }
  // rd_kafka_new takes the configuration only when it succeeds.
  rd_kafka_t* client = rd_kafka_new(type, conf, message, sizeof(message));
  if (client == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw UserError(context + ": cannot create a Kafka client: " + message);
  }
  return KafkaClient(client);
}

void CheckKafka(rd_kafka_resp_err_t error, const std::string& context, const std::string& what) {
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw UserError(context + ": " + what + ": " + rd_kafka_err2str(error));
  }
}

int PartitionCount(rd_kafka_t* client, const std::string& topic, const std::string& context) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(client, topic.c_str(), nullptr);
  MS_CHECK(handle != nullptr, "rd_kafka_topic_new failed for " + topic);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t error =
      rd_kafka_metadata(client, 0, handle, &metadata, kKafkaRequestTimeoutMs);
  rd_kafka_topic_destroy(handle);
  CheckKafka(error, context, "reading the metadata of topic '" + topic +
                                 "' (are the brokers reachable?)");
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(
      metadata, rd_kafka_metadata_destroy);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& entry = metadata->topics[i];
    if (topic != entry.topic) continue;
    if (entry.err != RD_KAFKA_RESP_ERR_NO_ERROR || entry.partition_cnt == 0) {
      throw UserError(context + ": topic '" + topic + "' is not in the cluster (" +
                      rd_kafka_err2str(entry.err) + "); create it first");
    }
    return entry.partition_cnt;
  }
  throw UserError(context + ": topic '" + topic + "' is not in the cluster; create it first");
}

void ForEachHeader(const rd_kafka_message_t& message,
                   const std::function<void(std::string_view, std::optional<std::string_view>)>& visit) {
  rd_kafka_headers_t* headers = nullptr;  // owned by the message
  if (rd_kafka_message_headers(&message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0;
       rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    std::optional<std::string_view> text;
    if (value != nullptr) text.emplace(static_cast<const char*>(value), size);
    visit(name, text);
  }
}

std::string PartitionName(const std::string& topic, int32_t partition) {
  return topic + "[" + std::to_string(partition) + "]";
}

}  // namespace millstream
