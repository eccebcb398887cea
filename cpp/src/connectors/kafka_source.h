// A Kafka source: the partitions of the topics, each read from its start offset, decoded
// straight into columnar batches. Bounded (stop="end"): each partition up to the end offset it
// had when the run began. Unbounded (`bounded` false): until the run is stopped; a partition
// with nothing to read answers `waiting` (source.h) and its committed offsets are those of the
// chunks it returned, committed when the stopped run has drained.
// Each partition is a split (own watermark downstream; the operators' watermark is the
// minimum), so partitions read at uneven rates give the result of reading them in any order.
// The run's consumer is assigned the partitions (no group membership, no rebalances), unless an
// unbounded run joins its group (`join_group`: it then reads the partitions the group assigns
// it); with a group the offsets read are committed to it once the run has succeeded (every
// sink finished), so a second run from start="committed" reads only what came after.
//
//   KafkaSourceOptions kafka;
//   kafka.topics = {"bids"};
//   kafka.brokers = "127.0.0.1:9092";
//   kafka.group = "analytics";
//   auto source = MakeKafkaSource(kafka, schema, SourceOptions{});
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/kafka_client.h"
#include "connectors/kafka_message_decoder.h"  // KafkaFormat
#include "connectors/source.h"

namespace millstream {

// Where a partition is read from when the run begins.
struct KafkaStart {
  enum class Kind { kEarliest, kLatest, kCommitted, kTimestamp };
  Kind kind = Kind::kEarliest;
  int64_t timestamp_ms = 0;  // kTimestamp: the first message at or after this time
};
// "earliest" | "latest" | "committed" (the group's offsets, else earliest) | "timestamp".
KafkaStart ParseKafkaStart(const std::string& name, int64_t timestamp_ms);

struct KafkaSourceOptions {
  std::vector<std::string> topics;
  std::string brokers;        // bootstrap.servers
  std::string group;          // empty: no group (nothing committed; start="committed" refused)
  KafkaFormat format = KafkaFormat::kJson;
  char csv_delimiter = ',';   // format csv: the field delimiter
  KafkaStart start;
  // Message metadata added as columns after the value's, named as given: "key" (string),
  // "partition" (int64), "offset" (int64), "timestamp" (timestamp[ms], the Kafka timestamp),
  // "headers" (list<struct<name: string, value: binary>>).
  std::vector<std::string> metadata;
  KafkaConfig config;         // librdkafka properties, applied over the source's own
  bool bounded = true;        // stop="end"; false: stop=None, until the run is stopped
  // With on_error "dead_letter": bad messages also go to this topic of the same cluster, raw,
  // with the reason and origin in headers (connectors/kafka_dead_letter_topic.h). Empty: not.
  std::string dead_letter_topic;
  // Unbounded runs with a group: subscribe as a member of it (cooperative-sticky), sharing the
  // partitions with its other members, instead of assigning every partition to this run.
  bool join_group = false;
};

// `schema`: the value's columns (required for formats json and csv; must be null for raw and
// string).
// Checks the options and the metadata names; the cluster is first contacted by CreateSplits.
std::shared_ptr<Source> MakeKafkaSource(KafkaSourceOptions kafka, SchemaPtr schema,
                                        SourceOptions options);

}  // namespace millstream
