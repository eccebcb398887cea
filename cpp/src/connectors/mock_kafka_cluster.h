// librdkafka's mock Kafka cluster, in this process and reachable over TCP on loopback, for tests
// and benchmarks: any Kafka client (ours, confluent-kafka, kcat) connects to
// bootstrap_servers(). Topics are created here (the mock does not answer CreateTopics). The mock
// keeps about 5 MB or 100,000 messages per partition and drops older ones (BUILD-NOTES.md).
//
//   MockKafkaCluster cluster(/*brokers=*/1);
//   cluster.CreateTopic("events", 4);
//   cluster.Produce("events", {{.value = R"({"id": 1})"}});
//   std::vector<KafkaRecord> records = cluster.Consume("events");   // every partition, in order
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka_client.h"

struct rd_kafka_mock_cluster_s;

namespace millstream {

// One message, as the test helpers write and read it.
struct KafkaRecord {
  std::optional<std::string> key;  // none: a null key
  std::string value;
  int32_t partition = -1;           // Produce: -1 lets the partitioner choose (murmur2 of the key)
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = 0;         // Produce: 0 is now
  int64_t offset = -1;              // set by Consume
};

class MockKafkaCluster {
 public:
  explicit MockKafkaCluster(int brokers);
  ~MockKafkaCluster();
  MockKafkaCluster(const MockKafkaCluster&) = delete;
  MockKafkaCluster& operator=(const MockKafkaCluster&) = delete;

  // "127.0.0.1:port,...": what clients pass as bootstrap.servers.
  std::string bootstrap_servers() const;
  void CreateTopic(const std::string& topic, int partitions);
  // Broker ids run from 1 to `brokers`. A broker that is down drops its connections and refuses
  // new ones; its partitions keep their leader (no fail-over), so clients wait for it.
  void BrokerDown(int broker_id);
  void BrokerUp(int broker_id);

  // Writes the records and waits until every one is acknowledged (or fails: UserError).
  void Produce(const std::string& topic, const std::vector<KafkaRecord>& records);
  // Every record of every partition of `topic` from its first offset to the end offset seen at
  // the call, partition by partition in offset order. Waits at most `timeout_ms`.
  std::vector<KafkaRecord> Consume(const std::string& topic, int timeout_ms = 30000);

 private:
  KafkaClient owner_;  // the client the mock cluster belongs to (librdkafka's bookkeeping)
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
};

}  // namespace millstream
