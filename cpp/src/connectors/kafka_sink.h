// A Kafka sink: each row a message, its value the row as a JSON object (the JSON Lines
// encoding of formats/text_encoder.h), its key a column's text. The producer is idempotent (no
// duplicates or reordering from its retries) and partitions by the key's murmur2 hash as Java's
// client does ("murmur2_random": rows without a key go to random partitions), so the topic stays
// co-partitioned with Kafka Streams and Flink producers. Finish() waits until the brokers
// acknowledged every message; a message that could not be delivered fails the run.
// It implements FileSink's interface (Write / Finish / Abort), the one the executor's sinks have.
//
//   KafkaSinkOptions options{.topic = "alerts", .brokers = "127.0.0.1:9092", .key_column = "user"};
//   auto sink = MakeKafkaSink(options, schema);
//   sink->Write(batch);
//   sink->Finish();   // every message acknowledged
#pragma once

#include <memory>
#include <string>

#include "connectors/file_sink.h"
#include "connectors/kafka_client.h"

namespace millstream {

struct KafkaSinkOptions {
  std::string topic;
  std::string brokers;     // bootstrap.servers
  std::string format = "json";
  std::string key_column;  // empty: messages without a key
  KafkaConfig config;      // librdkafka properties, applied over the sink's own
};

// Throws UserError (naming the sink) for an unknown format, a key column that is not in the
// schema or not a string or integer column, or a column type JSON cannot hold.
std::unique_ptr<FileSink> MakeKafkaSink(const KafkaSinkOptions& options, SchemaPtr schema);

}  // namespace millstream
