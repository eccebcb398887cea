// Bad messages of a Kafka source sent on to a Kafka topic (read_kafka(on_error="dead_letter",
// dead_letter_topic=...)): each as its original key and raw value bytes, with headers that say
// why and where it came from, so a consumer of that topic can repair and replay it:
//   millstream.reason     "field 'price': expected float64, got \"x\""
//   millstream.topic      the topic it was read from
//   millstream.partition  its partition (decimal text)
//   millstream.offset     its offset (decimal text)
// plus the original message's own headers. Flush() waits until every one was acknowledged
// and fails the run on any that could not be delivered: the source commits its offsets only
// after that, so no bad message is lost (at-least-once, like the rows).
//
//   KafkaDeadLetterTopic dead_letters("bids-bad", {{"bootstrap.servers", brokers}},
//                                     "read_kafka(bids)");
//   dead_letters.Send(message, "invalid JSON");
//   dead_letters.Flush();
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

#include "connectors/kafka_client.h"
#include "connectors/kafka_message_decoder.h"  // KafkaMessageView

namespace millstream {

class KafkaDeadLetterTopic {
 public:
  // Fails (UserError naming `source_name`) when the topic is not in the cluster.
  KafkaDeadLetterTopic(std::string topic, const KafkaConfig& config, std::string source_name);
  // Thread-safe: the splits of a source share one.
  void Send(const KafkaMessageView& message, std::string_view reason);
  void Flush();

 private:
  void ThrowIfFailed();
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

  const std::string topic_;
  const std::string source_name_;
  std::atomic<int64_t> failures_{0};
  std::mutex mutex_;
  std::string first_error_;
  KafkaClient producer_;  // after what its callback uses
};

}  // namespace millstream
