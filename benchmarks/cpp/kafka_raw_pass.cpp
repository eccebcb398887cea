// The ceiling for benchmarks/kafka.py: librdkafka alone, no decoding. Reads every partition of a
// topic from its first offset to the end offset seen at start (one consumer, assigned, as
// read_kafka's), and with --to T produces every value unchanged to topic T (flushed before the
// clock stops). Prints "<messages> <bytes> <seconds>".
//
// Built by benchmarks/kafka.py on first use: g++ -O2 -std=c++20 kafka_raw_pass.cpp -lrdkafka
//   kafka_raw_pass --brokers 127.0.0.1:PORT --topic bids [--to bids-out]
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "kafka_raw_pass: %s\n", what.c_str());
  std::exit(1);
}

rd_kafka_t* MakeClient(rd_kafka_type_t type, const std::vector<std::pair<std::string, std::string>>& config) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [name, value] : config) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) Fail(error);
  }
  rd_kafka_t* client = rd_kafka_new(type, conf, error, sizeof(error));
  if (client == nullptr) Fail(error);
  return client;
}

}  // namespace

int main(int argc, char** argv) {
  std::string brokers, topic, to;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--brokers") brokers = argv[i + 1];
    else if (flag == "--topic") topic = argv[i + 1];
    else if (flag == "--to") to = argv[i + 1];
    else Fail("unknown option " + flag);
  }
  if (brokers.empty() || topic.empty()) Fail("--brokers and --topic are required");
  const auto started = std::chrono::steady_clock::now();
  rd_kafka_t* consumer = MakeClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", brokers},
                                                        {"group.id", "raw-pass"},
                                                        {"enable.auto.commit", "false"},
                                                        {"enable.partition.eof", "true"}});
  rd_kafka_t* producer = to.empty() ? nullptr
                                    : MakeClient(RD_KAFKA_PRODUCER, {{"bootstrap.servers", brokers},
                                                                     {"enable.idempotence", "true"},
                                                                     {"partitioner", "murmur2_random"}});
  rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(consumer, 0, handle, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("metadata");
  const int partitions = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(handle);
  std::vector<int64_t> end(partitions), next(partitions);
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  int unfinished = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(consumer, topic.c_str(), p, &low, &high, 10000)) Fail("offsets");
    next[p] = low;
    end[p] = high;
    unfinished += low < high;
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = low;
  }
  rd_kafka_assign(consumer, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  int64_t messages = 0, bytes = 0;
  while (unfinished > 0) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 1000);
    if (message == nullptr) continue;
    const int p = message->partition;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (next[p] < end[p] && message->offset >= end[p]) { next[p] = end[p]; --unfinished; }
    } else if (message->err) {
      Fail(rd_kafka_message_errstr(message));
    } else if (message->offset < end[p]) {
      ++messages;
      bytes += static_cast<int64_t>(message->len);
      if (producer != nullptr) {
        while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(to.c_str()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(message->key, message->key_len),
                                 RD_KAFKA_V_VALUE(message->payload, message->len),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(producer, 10);
        }
        rd_kafka_poll(producer, 0);
      }
      next[p] = message->offset + 1;
      if (next[p] >= end[p]) --unfinished;
    }
    rd_kafka_message_destroy(message);
  }
  if (producer != nullptr && rd_kafka_flush(producer, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("flush");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%lld %lld %.4f\n", static_cast<long long>(messages), static_cast<long long>(bytes), seconds);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  if (producer != nullptr) rd_kafka_destroy(producer);
  return 0;
}
