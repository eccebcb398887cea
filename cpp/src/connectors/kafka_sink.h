// A Kafka sink: each row a message, its value the row as a JSON object (the JSON Lines
// encoding of formats/text_encoder.h), its key a column's text. The producer is idempotent (no
// duplicates or reordering from its retries) and partitions by the key's murmur2 hash as Java's
// client does ("murmur2_random": rows without a key go to random partitions), so the topic stays
// co-partitioned with Kafka Streams and Flink producers. Finish() waits until the brokers
// acknowledged every message; a message that could not be delivered fails the run.
// It implements FileSink's interface (Write / Finish / Abort), the one the executor's sinks have.
//
// Checkpoints (issue 17). Without a transactional id the sink is at-least-once: PrepareCheckpoint
// waits until every message is acknowledged, and a restored run sends the messages after the
// checkpoint again. With one (KafkaSinkOptions::transactional_id, or "transactional.id" in
// config) each checkpoint's messages form one Kafka transaction: begun at the first message
// after a commit, committed in CommitCheckpoint; messages that arrive between the barrier and
// the commit are held back for the next transaction. PrepareCheckpoint also writes the open
// transaction's messages into the checkpoint, and CommitCheckpoint marks it committed there: a
// crash after the checkpoint completed but before its commit leaves the transaction open, the
// restored producer's init_transactions aborts it (Kafka's fencing), and Restore sends those
// messages again in a transaction of its own. librdkafka cannot resume another producer's
// transaction, which is why they are kept. The one window left: a crash after the commit and
// before the mark is written repeats that transaction's messages.
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
  // Non-empty: one transaction per checkpoint under this id (the runtime derives it from the
  // job, the sink and the subtask, so that a restarted run fences its predecessor).
  std::string transactional_id;
};

// Throws UserError (naming the sink) for an unknown format, a key column that is not in the
// schema or not a string or integer column, or a column type JSON cannot hold.
std::unique_ptr<FileSink> MakeKafkaSink(const KafkaSinkOptions& options, SchemaPtr schema);

}  // namespace millstream
