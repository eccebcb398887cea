#include "connectors/kafka_source.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include "connectors/kafka_dead_letter_topic.h"
#include "connectors/position_bytes.h"
#include "core/error.h"

namespace millstream {

namespace {

// A partition that yields nothing for this long, before its end offset, fails the run (a
// broker down for good, a partition without a leader) instead of waiting forever.
constexpr auto kStallTimeout = std::chrono::seconds(30);
// How long one Next() waits for a first message before it returns an empty chunk, so that the
// split's thread goes back to the other actors.
constexpr int kPollWaitMs = 50;
// Unbounded runs: how long a fetch waits at most for new data (fetch.wait.max.ms; a user's
// config overrides it).
constexpr int kUnboundedFetchWaitMs = 100;
// Messages taken from a partition's queue in one call.
constexpr size_t kMessagesPerPoll = 1024;
// A member stopped while its group rebalances retries its final commit this long: a rejoin
// takes a heartbeat or two (heartbeat.interval.ms, 3 s by default), and job.stop() waits 10 s
// for the whole drain.
constexpr auto kCommitRetryTimeout = std::chrono::seconds(6);
constexpr int kCommitRetryPollMs = 100;

// One assigned partition: where its read began and where it ends.
struct PartitionRange {
  std::string topic;
  int32_t partition = 0;
  int64_t start_offset = 0;
  int64_t end_offset = 0;  // the high watermark when the run began: stop="end"
  int64_t low_offset = 0;  // the low watermark when the run began
  uint64_t first_part = 0;  // the place of the split's first chunk (restored: where it stopped)
};

// A partition's split position (SourceSplit::Position): topic, partition, whether this run
// read it (a member of a group owns only some), the next offset to read, the end offset of a
// bounded run (kept, so that a restored run ends where the first would have), and the next
// chunk's part.
constexpr std::string_view kKafkaPositionTag = "millstream-kafka-partition-v1";

struct RestoredPartition {
  int64_t next_offset = 0;
  int64_t stop_offset = -1;  // -1: unbounded
  uint64_t next_part = 0;
};
// By topic and partition.
using RestoredPartitions = std::map<std::pair<std::string, int32_t>, RestoredPartition>;

std::string RandomGroupId() {
  std::random_device device;
  return "millstream-" + std::to_string(device()) + std::to_string(device());
}

// The run's consumer, shared by the splits of one source. Each partition's messages go to a
// queue of their own, which that partition's split drains (no message reaches the consumer's
// main queue). Runs assign every partition with an explicit start offset, except an unbounded
// run with `join_group`, which subscribes as a member of its group (the cooperative-sticky
// assignor unless `config` says otherwise): the group's other members share
// the partitions, and a partition this member does not own has a split that only waits. The
// offsets reached are committed once, when the run has succeeded (or drained after a stop), for
// the partitions owned then.
class KafkaReadSession {
 public:
  // `restored`: where a restored run's partitions resume (the checkpoint is the source of
  // truth, not the group's committed offsets); partitions without an entry start at `start`.
  KafkaReadSession(const KafkaSourceOptions& options, std::string name,
                   RestoredPartitions restored = {})
      : name_(std::move(name)),
        group_(options.group),
        start_(options.start),
        subscribed_(options.join_group),
        restored_(std::move(restored)) {
    KafkaConfig config = {{"bootstrap.servers", options.brokers},
                          {"group.id", group_.empty() ? RandomGroupId() : group_},
                          {"enable.auto.commit", "false"},
                          {"enable.auto.offset.store", "false"},
                          {"enable.partition.eof", "true"},
                          // Offsets are chosen here; one that is gone is an error, not a jump.
                          {"auto.offset.reset", "error"}};
    if (!options.bounded) {
      // A fetch of a caught-up partition waits up to this long for data. Brokers answer as soon
      // as data comes, but librdkafka 2.0.2's mock does not: with the default 500 ms a message
      // took a median 502 ms from produce to a callback sink (50 records, 64 partitions), with
      // 100 ms 102 ms (design-notes.md). An idle consumer costs a fetch per 100 ms per broker.
      config["fetch.wait.max.ms"] = std::to_string(kUnboundedFetchWaitMs);
    }
    if (subscribed_) {
      // A rebalance moves only the partitions that change owner; the others keep being read.
      config["partition.assignment.strategy"] = "cooperative-sticky";
    }
    for (const auto& [property, value] : options.config) config[property] = value;
    consumer_ = MakeKafkaClient(RD_KAFKA_CONSUMER, config, name_, nullptr, this,
                                subscribed_ ? OnRebalance : nullptr);
    if (!options.dead_letter_topic.empty()) {
      KafkaConfig producer_config = {{"bootstrap.servers", options.brokers}};
      for (const auto& [property, value] : options.config) {
        // The consumer's own properties would be refused (or warned about) by a producer.
        if (property.rfind("group.", 0) != 0 && property.rfind("auto.", 0) != 0 &&
            property.rfind("enable.auto", 0) != 0 && property != "enable.partition.eof") {
          producer_config[property] = value;
        }
      }
      dead_letters_ = std::make_unique<KafkaDeadLetterTopic>(options.dead_letter_topic,
                                                             producer_config, name_);
    }
    for (const std::string& topic : options.topics) {
      const int count = PartitionCount(consumer_.get(), topic, name_);
      for (int32_t partition = 0; partition < count; ++partition) {
        PartitionRange range{topic, partition};
        CheckKafka(rd_kafka_query_watermark_offsets(consumer_.get(), topic.c_str(), partition,
                                                    &range.start_offset, &range.end_offset,
                                                    kKafkaRequestTimeoutMs),
                   name_, "reading the offsets of " + PartitionName(topic, partition));
        range.low_offset = range.start_offset;
        ranges_.push_back(range);
      }
    }
    owners_ = std::vector<PartitionOwner>(ranges_.size());
    for (const PartitionRange& range : ranges_) reached_offsets_.push_back(range.start_offset);
    for (const auto& [place, restored] : restored_) {
      if (!HasPartition(place.first, place.second)) {
        throw UserError(name_ + ": the checkpoint holds " + PartitionName(place.first, place.second) +
                        ", which the topics do not have now (deleted or recreated); its records "
                        "from offset " + std::to_string(restored.next_offset) +
                        " cannot be read: start the job without the checkpoint");
      }
    }
    for (PartitionRange& range : ranges_) {
      auto found = restored_.find({range.topic, range.partition});
      if (found != restored_.end()) range.first_part = found->second.next_part;
    }
    if (subscribed_) {
      // The queues are disconnected from the main queue before the group assigns anything.
      for (const PartitionRange& range : ranges_) queues_.push_back(PartitionQueue(range));
      PartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size())));
      for (const std::string& topic : options.topics) {
        rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
      }
      CheckKafka(rd_kafka_subscribe(consumer_.get(), topics.get()), name_,
                 "subscribing to the topics as a member of group '" + group_ + "'");
      return;
    }
    ChooseStartOffsets(options.start);
    for (PartitionRange& range : ranges_) {
      auto found = restored_.find({range.topic, range.partition});
      if (found == restored_.end()) continue;
      range.start_offset = RestoredStart(range.topic, range.partition, found->second.next_offset,
                                         range.low_offset, range.end_offset);
      if (options.bounded && found->second.stop_offset >= 0) {
        range.end_offset = found->second.stop_offset;
      }
    }
    for (size_t i = 0; i < ranges_.size(); ++i) {
      reached_offsets_[i] = ranges_[i].start_offset;
      owners_[i].owned = true;
    }
    PartitionList assignment(rd_kafka_topic_partition_list_new(static_cast<int>(ranges_.size())));
    for (const PartitionRange& range : ranges_) {
      rd_kafka_topic_partition_list_add(assignment.get(), range.topic.c_str(), range.partition)
          ->offset = range.start_offset;
      queues_.push_back(PartitionQueue(range));
    }
    CheckKafka(rd_kafka_assign(consumer_.get(), assignment.get()), name_,
               "assigning the partitions");
  }

  ~KafkaReadSession() {
    queues_.clear();
    // A member leaves its group in close (its partitions revoked through OnRebalance).
    if (!subscribed_) rd_kafka_assign(consumer_.get(), nullptr);
    rd_kafka_consumer_close(consumer_.get());
  }

  bool subscribed() const { return subscribed_; }

  // Whether this consumer owns partition `index` now, and since which assignment: a split that
  // sees a new generation starts over from `start_offset` (the group's committed offset, else
  // the source's start). Written by OnRebalance, read by the partition's split on any worker.
  struct Ownership {
    bool owned = false;
    uint64_t generation = 0;
    int64_t start_offset = 0;
  };
  Ownership Owner(size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    const PartitionOwner& owner = owners_[index];
    return {owner.owned, owner.generation, reached_offsets_[index]};
  }

  // Serves the main queue (rebalances, client errors) at most every kServeEveryMs: the splits of
  // a subscribed consumer call this from Next() so that a rebalance is answered even while
  // every owned partition has data. One thread at a time (the session's mutex).
  void ServeEventsSometimes() {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch()).count();
    int64_t last_ms = last_served_ms_.load();
    if (now_ms - last_ms < kServeEveryMs) return;
    if (!last_served_ms_.compare_exchange_strong(last_ms, now_ms)) return;  // another split does
    LatestClientError();
  }

  const std::vector<PartitionRange>& ranges() const { return ranges_; }
  rd_kafka_queue_t* queue(size_t index) const { return queues_[index].get(); }
  const std::string& name() const { return name_; }
  KafkaDeadLetterTopic* dead_letters() const { return dead_letters_.get(); }

  // A split read its partition up to `next_offset` (the offset its group resumes from), while
  // it owned it since assignment `generation` (an older one's position no longer counts).
  void NoteReached(size_t index, int64_t next_offset, uint64_t generation) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (owners_[index].generation == generation) reached_offsets_[index] = next_offset;
  }

  // Stops fetching partition `index`: what the broker has stays there while its split is held
  // back. Thread-safe in librdkafka.
  void Pause(size_t index) {
    PartitionList partition = OnePartition(index, RD_KAFKA_OFFSET_INVALID);
    CheckKafka(rd_kafka_pause_partitions(consumer_.get(), partition.get()), name_,
               "pausing " + PartitionName(ranges_[index].topic, ranges_[index].partition));
  }
  // Fetches partition `index` again, from `next_offset` (the split's own position: librdkafka
  // 2.0.x does not keep a batch consumer's position across a pause, BUILD-NOTES.md).
  void Resume(size_t index, int64_t next_offset) {
    // A partition the group moved elsewhere meanwhile has no position here to seek; one
    // assigned again starts from its new start offset.
    if (!Owner(index).owned) return;
    const std::string place = PartitionName(ranges_[index].topic, ranges_[index].partition);
    PartitionList position = OnePartition(index, next_offset);
    rd_kafka_error_t* error =
        rd_kafka_seek_partitions(consumer_.get(), position.get(), kKafkaRequestTimeoutMs);
    if (error != nullptr) {
      const std::string message = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      throw UserError(name_ + ": resuming " + place + " at offset " +
                      std::to_string(next_offset) + ": " + message);
    }
    CheckKafka(position->elems[0].err, name_, "resuming " + place);
    // Sought while paused, then resumed: no fetch from the old position goes out in between.
    PartitionList partition = OnePartition(index, RD_KAFKA_OFFSET_INVALID);
    CheckKafka(rd_kafka_resume_partitions(consumer_.get(), partition.get()), name_,
               "resuming " + place);
  }

  PartitionList OnePartition(size_t index, int64_t offset) const {
    PartitionList partition(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(partition.get(), ranges_[index].topic.c_str(),
                                      ranges_[index].partition)
        ->offset = offset;
    return partition;
  }

  // Messages between `next_offset` and the end of partition `index` as last seen by the
  // consumer's fetches (no request is made); -1 before the first fetch answered.
  int64_t Lag(size_t index, int64_t next_offset) {
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), ranges_[index].topic.c_str(),
                                       ranges_[index].partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      return -1;
    }
    return std::max<int64_t>(0, high - next_offset);
  }

  // Commits the offsets every split reached, once (the first split to ask does it for all):
  // called when the run succeeded, i.e. every sink took every chunk the splits returned. A
  // member stopped while its group rebalances is refused ("rebalance in progress", "group
  // generation id is not valid") until it has rejoined: it serves the rebalance and tries again
  // for up to kCommitRetryTimeout. A partition revoked meanwhile is another member's now (not
  // this one's to commit); the partitions left uncommitted are counted in the source's metrics
  // (partitions_not_committed), which Job turns into a warning: their next owner reads them
  // again from the group's last commit.
  void CommitOnce() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (committed_) return;
    committed_ = true;
    if (dead_letters_) dead_letters_->Flush();  // bad messages delivered before their offsets
    if (group_.empty()) return;
    std::vector<size_t> owned_at_stop;
    for (size_t i = 0; i < ranges_.size(); ++i) {
      // A partition revoked from this member is read by another now: its offsets are the
      // other member's to commit.
      if (owners_[i].owned) owned_at_stop.push_back(i);
    }
    // What the sinks took, as the splits reached it: a partition the rebalance takes away and
    // gives back (an assignment "lost" after an invalid generation) restarts reached_offsets_
    // at the group's commit, but this member may still commit where its sinks got to.
    const std::vector<int64_t> offsets_at_stop = reached_offsets_;
    std::vector<bool> done(ranges_.size(), false);
    const auto deadline = std::chrono::steady_clock::now() + kCommitRetryTimeout;
    // A refused commit is followed by a rejoin, in which librdkafka revokes partitions (all of
    // them after an invalid generation): the loop ends when what is still owned is committed.
    // It does not wait for the group to give partitions back: against the mock cluster no new
    // assignment came within the retry time (measured), and the stop would only take longer.
    for (;;) {
      const bool churned = CommitOwned(owned_at_stop, offsets_at_stop, &done);
      if (!churned || std::chrono::steady_clock::now() >= deadline) break;
      ServeMainQueue(kCommitRetryPollMs);  // the rebalance callbacks run here
    }
    if (rebalance_error_) std::rethrow_exception(std::exchange(rebalance_error_, nullptr));
    std::vector<std::string> not_committed;
    for (const size_t i : owned_at_stop) {
      if (!done[i]) not_committed.push_back(PartitionName(ranges_[i].topic, ranges_[i].partition));
    }
    if (!not_committed.empty() && metrics_ != nullptr) metrics_->NoteNotCommitted(not_committed);
  }

  // Serves the consumer's main queue, which carries only client-wide events (errors such as
  // all brokers down: librdkafka retries them). Returns the latest error, for the message of a
  // stalled partition.
  std::string LatestClientError() {
    std::lock_guard<std::mutex> lock(mutex_);
    ServeMainQueue(0);
    if (rebalance_error_) {
      std::exception_ptr error = std::exchange(rebalance_error_, nullptr);
      std::rethrow_exception(error);
    }
    return latest_error_;
  }

  // Where a stopped member's uncommitted partitions are reported (the source's metrics).
  void ReportTo(OperatorMetrics* metrics) {
    std::lock_guard<std::mutex> lock(mutex_);
    metrics_ = metrics;
  }

 private:
  void ChooseStartOffsets(const KafkaStart& start) {
    if (start.kind == KafkaStart::Kind::kEarliest) return;  // the low watermarks
    if (start.kind == KafkaStart::Kind::kLatest) {
      for (PartitionRange& range : ranges_) range.start_offset = range.end_offset;
      return;
    }
    PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(ranges_.size())));
    for (const PartitionRange& range : ranges_) {
      rd_kafka_topic_partition_list_add(offsets.get(), range.topic.c_str(), range.partition)
          ->offset = start.timestamp_ms;
    }
    if (start.kind == KafkaStart::Kind::kCommitted) {
      CheckKafka(rd_kafka_committed(consumer_.get(), offsets.get(), kKafkaRequestTimeoutMs),
                 name_, "reading the offsets committed by group '" + group_ + "'");
    } else {
      CheckKafka(rd_kafka_offsets_for_times(consumer_.get(), offsets.get(), kKafkaRequestTimeoutMs),
                 name_, "looking up the offsets of time " + std::to_string(start.timestamp_ms));
    }
    for (size_t i = 0; i < ranges_.size(); ++i) {
      PartitionRange& range = ranges_[i];
      const rd_kafka_topic_partition_t& found = offsets->elems[i];
      CheckKafka(found.err, name_, "finding the start offset of " +
                                       PartitionName(range.topic, range.partition));
      if (found.offset < 0) {
        // Nothing committed: from the earliest (the low watermark). No message at or after the
        // time: nothing to read.
        if (start.kind == KafkaStart::Kind::kTimestamp) range.start_offset = range.end_offset;
        continue;
      }
      // A committed offset below the low watermark points at records the broker no longer
      // keeps: reading starts at the first one it has.
      range.start_offset = std::clamp(found.offset, range.start_offset, range.end_offset);
    }
  }

  static constexpr int64_t kServeEveryMs = 50;

  struct PartitionOwner {
    bool owned = false;
    uint64_t generation = 0;  // counts the assignments and revocations of the partition
  };

  KafkaQueue PartitionQueue(const PartitionRange& range) {
    // Disconnected from the main queue before an assignment starts fetching: librdkafka then
    // leaves the forwarding as set here.
    KafkaQueue queue(rd_kafka_queue_get_partition(consumer_.get(), range.topic.c_str(),
                                                  range.partition));
    MS_CHECK(queue != nullptr, "no queue for " + PartitionName(range.topic, range.partition));
    rd_kafka_queue_forward(queue.get(), nullptr);
    return queue;
  }

  // librdkafka calls this from rd_kafka_consumer_poll (LatestClientError, under `mutex_`) when
  // the group gives this member partitions or takes them away. An error is kept and rethrown
  // by LatestClientError: nothing may be thrown through librdkafka.
  static void OnRebalance(rd_kafka_t* consumer, rd_kafka_resp_err_t event,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* session = static_cast<KafkaReadSession*>(opaque);
    const bool cooperative = std::string(rd_kafka_rebalance_protocol(consumer)) == "COOPERATIVE";
    try {
      if (event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        session->Assign(partitions, cooperative);
      } else {
        session->Revoke(partitions, cooperative);
      }
    } catch (...) {
      session->rebalance_error_ = std::current_exception();
      // Revoked partitions must be let go of, else the group waits for this member.
      if (event != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative) {
          if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(consumer, partitions)) {
            rd_kafka_error_destroy(error);
          }
        } else {
          rd_kafka_assign(consumer, nullptr);
        }
      }
    }
  }

  size_t IndexOf(const rd_kafka_topic_partition_t& partition) const {
    for (size_t i = 0; i < ranges_.size(); ++i) {
      if (ranges_[i].partition == partition.partition && ranges_[i].topic == partition.topic) {
        return i;
      }
    }
    throw UserError(name_ + ": the group assigned " +
                    PartitionName(partition.topic, partition.partition) +
                    ", which the topic did not have when the run began; restart the job to read "
                    "partitions added since");
  }

  // Newly owned partitions start at the group's committed offset, else where `start` says.
  void Assign(rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
    if (partitions->cnt > 0) {
      CheckKafka(rd_kafka_committed(consumer_.get(), partitions, kKafkaRequestTimeoutMs), name_,
                 "reading the offsets committed by group '" + group_ + "'");
    }
    for (int i = 0; i < partitions->cnt; ++i) {
      rd_kafka_topic_partition_t& partition = partitions->elems[i];
      const std::string place = PartitionName(partition.topic, partition.partition);
      CheckKafka(partition.err, name_, "reading the committed offset of " + place);
      int64_t low = 0;
      int64_t high = 0;
      CheckKafka(rd_kafka_query_watermark_offsets(consumer_.get(), partition.topic,
                                                  partition.partition, &low, &high,
                                                  kKafkaRequestTimeoutMs),
                 name_, "reading the offsets of " + place);
      int64_t start = partition.offset;
      if (start < 0) start = StartWithoutCommit(partition, low, high);
      // The first time the group gives this member a partition its checkpoint holds, the
      // checkpoint says where to resume; later assignments follow the group's commits.
      auto restored = restored_.find({partition.topic, partition.partition});
      if (restored != restored_.end()) {
        start = RestoredStart(partition.topic, partition.partition, restored->second.next_offset,
                              low, high);
        restored_.erase(restored);
      }
      // A committed offset below the low watermark points at records the broker no longer
      // keeps: reading starts at the first one it has.
      partition.offset = std::clamp(start, low, high);
    }
    if (cooperative) {
      CheckKafkaError(rd_kafka_incremental_assign(consumer_.get(), partitions),
                      "taking the partitions the group assigned");
    } else {
      CheckKafka(rd_kafka_assign(consumer_.get(), partitions), name_,
                 "taking the partitions the group assigned");
    }
    for (int i = 0; i < partitions->cnt; ++i) {
      const size_t index = IndexOf(partitions->elems[i]);
      owners_[index].owned = true;
      ++owners_[index].generation;
      reached_offsets_[index] = partitions->elems[i].offset;
    }
  }

  bool HasPartition(const std::string& topic, int32_t partition) const {
    return std::any_of(ranges_.begin(), ranges_.end(), [&](const PartitionRange& range) {
      return range.topic == topic && range.partition == partition;
    });
  }

  // A checkpoint's offset, checked against what the broker keeps: records deleted since (by
  // retention) cannot be read again, and an offset past the end means another topic of the
  // same name. Either would lose rows silently, so both stop the run.
  int64_t RestoredStart(const std::string& topic, int32_t partition, int64_t next_offset,
                        int64_t low, int64_t high) const {
    const std::string place = PartitionName(topic, partition);
    if (next_offset < low) {
      throw UserError(name_ + ": the checkpoint resumes " + place + " at offset " +
                      std::to_string(next_offset) + ", but the broker keeps it from offset " +
                      std::to_string(low) + " only (retention deleted the records between): "
                      "restoring would lose them; start the job without the checkpoint");
    }
    if (next_offset > high) {
      throw UserError(name_ + ": the checkpoint resumes " + place + " at offset " +
                      std::to_string(next_offset) + ", past its end offset " +
                      std::to_string(high) + " (the topic was recreated?); start the job "
                      "without the checkpoint");
    }
    return next_offset;
  }

  int64_t StartWithoutCommit(const rd_kafka_topic_partition_t& partition, int64_t low,
                             int64_t high) {
    switch (start_.kind) {
      case KafkaStart::Kind::kEarliest:
      case KafkaStart::Kind::kCommitted:
        return low;
      case KafkaStart::Kind::kLatest:
        return high;
      case KafkaStart::Kind::kTimestamp: {
        PartitionList one(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(one.get(), partition.topic, partition.partition)
            ->offset = start_.timestamp_ms;
        CheckKafka(rd_kafka_offsets_for_times(consumer_.get(), one.get(), kKafkaRequestTimeoutMs),
                   name_, "looking up the offsets of time " + std::to_string(start_.timestamp_ms));
        return one->elems[0].offset < 0 ? high : one->elems[0].offset;
      }
    }
    return low;
  }

  // Revoked (or lost) partitions are let go of at once. What their splits returned still goes
  // to the sinks, but no offset is committed for them here: which of those records every sink
  // has taken is not known yet, so the next owner reads them again from the group's last commit
  // (at-least-once; the repeats are the uncommitted tail).
  void Revoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
    for (int i = 0; i < partitions->cnt; ++i) {
      const size_t index = IndexOf(partitions->elems[i]);
      owners_[index].owned = false;
      ++owners_[index].generation;
    }
    if (cooperative) {
      CheckKafkaError(rd_kafka_incremental_unassign(consumer_.get(), partitions),
                      "letting go of the partitions the group revoked");
    } else {
      CheckKafka(rd_kafka_assign(consumer_.get(), nullptr), name_,
                 "letting go of the partitions the group revoked");
    }
  }

  // Polls the main queue (under `mutex_`), waiting up to `first_wait_ms` for the first event:
  // rebalance callbacks run here, and client errors are kept as `latest_error_`.
  void ServeMainQueue(int first_wait_ms) {
    for (int wait_ms = first_wait_ms;; wait_ms = 0) {
      KafkaMessage event(rd_kafka_consumer_poll(consumer_.get(), wait_ms));
      if (!event) break;
      MS_CHECK(event->err != RD_KAFKA_RESP_ERR_NO_ERROR,
               "a Kafka message reached the main queue instead of its partition's queue");
      latest_error_ = rd_kafka_message_errstr(event.get());
    }
  }

  // The group is between generations: a commit is refused until this member has rejoined.
  static bool IsGroupChurn(rd_kafka_resp_err_t error) {
    return error == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
           error == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
           error == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID;
  }

  // One attempt of CommitOnce (under `mutex_`): commits `offsets` of the partitions of `indexes`
  // this member owns now and has not committed yet, marking them in `done`. Returns whether
  // some were refused because the group rebalances (try again once it settled); any other
  // error throws.
  bool CommitOwned(const std::vector<size_t>& indexes, const std::vector<int64_t>& offsets_reached,
                   std::vector<bool>* done) {
    PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(indexes.size())));
    std::vector<size_t> listed;
    for (const size_t i : indexes) {
      if ((*done)[i] || !owners_[i].owned) continue;  // revoked meanwhile: not ours to commit
      rd_kafka_topic_partition_list_add(offsets.get(), ranges_[i].topic.c_str(),
                                        ranges_[i].partition)
          ->offset = offsets_reached[i];
      listed.push_back(i);
    }
    if (listed.empty()) return false;
    const rd_kafka_resp_err_t error = rd_kafka_commit(consumer_.get(), offsets.get(), /*async=*/0);
    if (IsGroupChurn(error)) return true;
    CheckKafka(error, name_,
               "committing the offsets read to group '" + group_ +
                   "' (the results are complete; a next run from start='committed' reads "
                   "these records again)");
    bool churned = false;
    for (int i = 0; i < offsets->cnt; ++i) {
      if (IsGroupChurn(offsets->elems[i].err)) {
        churned = true;
        continue;
      }
      CheckKafka(offsets->elems[i].err, name_,
                 "committing the offset of " +
                     PartitionName(offsets->elems[i].topic, offsets->elems[i].partition));
      (*done)[listed[static_cast<size_t>(i)]] = true;
    }
    return churned;
  }

  void CheckKafkaError(rd_kafka_error_t* error, const std::string& what) {
    if (error == nullptr) return;
    const std::string message = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    throw UserError(name_ + ": " + what + ": " + message);
  }

  std::string name_;
  std::string group_;  // empty: none (a random group id is used, and nothing committed)
  KafkaStart start_;
  bool subscribed_;  // a member of `group_` (unbounded runs with a group), else assigned
  RestoredPartitions restored_;  // subscribed: erased as the group first assigns each
  KafkaClient consumer_;
  std::unique_ptr<KafkaDeadLetterTopic> dead_letters_;  // null without dead_letter_topic
  std::vector<PartitionRange> ranges_;
  std::vector<KafkaQueue> queues_;  // per range
  std::mutex mutex_;
  std::vector<int64_t> reached_offsets_;  // per range: the offset after the last chunk returned
  std::vector<PartitionOwner> owners_;    // per range
  bool committed_ = false;
  std::string latest_error_;
  std::exception_ptr rebalance_error_;  // from OnRebalance, thrown by LatestClientError
  OperatorMetrics* metrics_ = nullptr;  // the source's, for partitions left uncommitted
  std::atomic<int64_t> last_served_ms_{0};
};

class KafkaPartitionSplit final : public SourceSplit {
 public:
  KafkaPartitionSplit(std::shared_ptr<KafkaReadSession> session, size_t index,
                      const KafkaSourceOptions& kafka, SchemaPtr value_schema,
                      const SourceOptions& options, OperatorMetrics* metrics)
      : session_(std::move(session)),
        index_(index),
        range_(session_->ranges()[index]),
        stop_offset_(kafka.bounded ? range_.end_offset : std::numeric_limits<int64_t>::max()),
        next_offset_(range_.start_offset),
        metrics_(metrics),
        progress_(metrics->AddSplit(PartitionName(range_.topic, range_.partition))),
        decoder_(kafka.format, std::move(value_schema), kafka.metadata, options.batch_size,
                 session_->name(), options.on_error, metrics, kafka.csv_delimiter),
        last_progress_(std::chrono::steady_clock::now()) {
    progress_->position = next_offset_;
    if (KafkaDeadLetterTopic* dead_letters = session_->dead_letters()) {
      decoder_.OnDeadLetter([dead_letters](const KafkaMessageView& message, std::string_view reason) {
        dead_letters->Send(message, reason);
      });
    }
    wants_headers_ = decoder_.wants_headers() || session_->dead_letters() != nullptr;
    if (next_offset_ >= stop_offset_) End();
  }

  SplitOutput Next() override {
    SplitOutput output;
    // Chunks of partition k are block k: sinks keep each partition's order, partitions in turn.
    output.position = ChunkPosition(index_, part_++);
    if (session_->subscribed() && !FollowOwnership()) {
      output.waiting = true;
      return output;
    }
    while (!ended_ && !decoder_.full()) {
      rd_kafka_message_t* messages[kMessagesPerPoll];
      // Never more than the batch can take: every message taken from the queue is decoded.
      const size_t wanted = static_cast<size_t>(
          std::min<int64_t>(static_cast<int64_t>(kMessagesPerPoll), decoder_.room()));
      // Unbounded: never block a worker; an empty queue is answered with `waiting`.
      const bool may_wait = bounded() && decoder_.rows() == 0;
      const ssize_t count = rd_kafka_consume_batch_queue(
          session_->queue(index_), may_wait ? kPollWaitMs : 0, messages, wanted);
      MS_CHECK(count >= 0, "rd_kafka_consume_batch_queue failed on " + place());
      if (count == 0) {
        if (decoder_.rows() == 0 && bounded()) CheckStalled();
        if (decoder_.rows() == 0 && !bounded()) {
          output.waiting = true;
          session_->LatestClientError();  // serves the main queue, so its events do not pile up
        }
        break;
      }
      last_progress_ = std::chrono::steady_clock::now();
      std::vector<KafkaMessage> owned(messages, messages + count);
      for (const KafkaMessage& message : owned) {
        if (ended_) break;  // fetched past the end offset: left for a later run
        Take(*message);
      }
    }
    output.rows = decoder_.FinishRows();
    output.dead_letters = decoder_.FinishDeadLetters();
    if (output.rows) metrics_->rows_out += output.rows->num_rows();
    output.end = ended_;
    if (!bounded()) session_->NoteReached(index_, next_offset_, generation_);
    progress_->position = next_offset_;
    progress_->lag = ended_ ? 0 : session_->Lag(index_, next_offset_);
    return output;
  }

  std::string Position() const override {
    bool read_here = true;
    if (session_->subscribed()) {
      const KafkaReadSession::Ownership owner = session_->Owner(index_);
      read_here = owner.owned && owner.generation == generation_;
    }
    PositionWriter writer(kKafkaPositionTag);
    writer.PutString(range_.topic);
    writer.PutInt(range_.partition);
    writer.PutInt(read_here ? 1 : 0);
    writer.PutInt(next_offset_);
    writer.PutInt(bounded() ? stop_offset_ : -1);
    writer.PutInt(static_cast<int64_t>(part_));
    return writer.Take();
  }

  void OnRunSucceeded() override { session_->CommitOnce(); }
  void Pause() override {
    session_->Pause(index_);
    progress_->paused = true;
  }
  void Resume() override {
    session_->Resume(index_, next_offset_);
    progress_->paused = false;
  }

 private:
  void Take(const rd_kafka_message_t& message) {
    if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The partition's end as the broker sees it now; offsets may skip (transaction markers).
      next_offset_ = std::max(next_offset_, message.offset);
      if (next_offset_ >= stop_offset_) End();
      return;
    }
    if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw UserError(session_->name() + ": reading " + place() + " at offset " +
                      std::to_string(next_offset_) + ": " +
                      rd_kafka_message_errstr(const_cast<rd_kafka_message_t*>(&message)));
    }
    if (message.offset < next_offset_) return;  // fetched before a pause and again after it
    if (message.offset >= stop_offset_) {  // written after the run began
      End();
      return;
    }
    KafkaMessageView view;
    view.topic = range_.topic;
    view.partition = range_.partition;
    view.offset = message.offset;
    if (message.key != nullptr) view.key.emplace(static_cast<const char*>(message.key), message.key_len);
    if (message.payload != nullptr) view.value.emplace(static_cast<const char*>(message.payload), message.len);
    view.timestamp_ms = rd_kafka_message_timestamp(&message, nullptr);
    if (wants_headers_) ReadHeaders(message, &view);
    decoder_.Append(view);
    metrics_->bytes_read += static_cast<int64_t>(message.len);
    next_offset_ = message.offset + 1;
    if (next_offset_ >= stop_offset_) End();
  }

  bool bounded() const { return stop_offset_ != std::numeric_limits<int64_t>::max(); }

  // A member of a group: answers the group's events now and then, and whether this member
  // owns the partition now. Newly (re)assigned, the split reads on from the partition's start
  // offset; not owned, it drops what librdkafka fetched before the revocation.
  bool FollowOwnership() {
    session_->ServeEventsSometimes();
    const KafkaReadSession::Ownership owner = session_->Owner(index_);
    if (owner.generation != generation_) {
      generation_ = owner.generation;
      if (owner.owned) next_offset_ = owner.start_offset;
    }
    if (owner.owned) return true;
    for (;;) {
      rd_kafka_message_t* messages[kMessagesPerPoll];
      const ssize_t count =
          rd_kafka_consume_batch_queue(session_->queue(index_), 0, messages, kMessagesPerPoll);
      if (count <= 0) break;
      std::vector<KafkaMessage> dropped(messages, messages + count);
    }
    progress_->lag = -1;
    return false;
  }

  static void ReadHeaders(const rd_kafka_message_t& message, KafkaMessageView* view) {
    ForEachHeader(message, [view](std::string_view name, std::optional<std::string_view> value) {
      view->headers.emplace_back(name, value);
    });
  }

  void End() {
    ended_ = true;
    next_offset_ = std::max(next_offset_, stop_offset_);
    session_->NoteReached(index_, next_offset_, generation_);
  }

  void CheckStalled() {
    const std::string client_error = session_->LatestClientError();
    if (std::chrono::steady_clock::now() - last_progress_ < kStallTimeout) return;
    throw UserError(session_->name() + ": " + place() + ": no message for " +
                    std::to_string(kStallTimeout.count()) + " s at offset " +
                    std::to_string(next_offset_) + " of end offset " +
                    std::to_string(range_.end_offset) +
                    (client_error.empty() ? "" : " (latest client error: " + client_error + ")") +
                    "; check that the brokers are up and the partition has a leader");
  }

  std::string place() const { return PartitionName(range_.topic, range_.partition); }

  std::shared_ptr<KafkaReadSession> session_;
  const size_t index_;
  const PartitionRange range_;
  const int64_t stop_offset_;  // bounded: the end offset when the run began; else int64 max
  int64_t next_offset_;  // of the next message to read
  OperatorMetrics* metrics_;
  SplitProgress* progress_;
  KafkaMessageDecoder decoder_;
  bool wants_headers_ = false;  // the decoder's headers column, or a dead-letter topic
  std::chrono::steady_clock::time_point last_progress_;
  bool ended_ = false;
  uint64_t part_ = range_.first_part;
  uint64_t generation_ = 0;  // of the session's ownership of the partition this split follows
};

class KafkaSource final : public Source {
 public:
  KafkaSource(KafkaSourceOptions kafka, SchemaPtr value_schema, SourceOptions options)
      : kafka_(std::move(kafka)),
        value_schema_(std::move(value_schema)),
        options_(options),
        name_("read_kafka(" + JoinTopics() + ")"),
        schema_(KafkaMessageDecoder::OutputSchema(kafka_.format, value_schema_, kafka_.metadata,
                                                  name_)) {
    if (kafka_.topics.empty()) throw UserError("read_kafka: name at least one topic");
    if (kafka_.brokers.empty()) {
      throw UserError(name_ + ": brokers is empty; pass the bootstrap servers, e.g. "
                      "brokers='localhost:9092'");
    }
    if (options_.batch_size <= 0) throw UserError(name_ + ": batch_size must be positive");
    if (!kafka_.dead_letter_topic.empty() && options_.on_error != OnError::kDeadLetter) {
      throw UserError(name_ + ": dead_letter_topic sends bad messages on: it needs "
                      "on_error='dead_letter'");
    }
    if (kafka_.join_group && (kafka_.group.empty() || kafka_.bounded)) {
      throw UserError(name_ + ": join_group shares the partitions of a group among the "
                      "processes of an unbounded run: pass group=... and stop=None");
    }
    if (kafka_.start.kind == KafkaStart::Kind::kCommitted && kafka_.group.empty()) {
      throw UserError(name_ + ": start='committed' reads a group's offsets; pass group=...");
    }
  }

  SchemaPtr schema() const override { return schema_; }
  std::string name() const override { return name_; }
  bool bounded() const override { return kafka_.bounded; }

  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int max_splits,
                                                         OperatorMetrics* metrics) const override {
    (void)max_splits;  // one split per partition (source.h)
    return SplitsOf(std::make_shared<KafkaReadSession>(kafka_, name_), metrics);
  }

  // One split per partition again, each resuming at its checkpointed offset; a partition the
  // checkpoint does not hold (added since) starts at `start`. A member of a group (join_group)
  // resumes the partitions its checkpoint holds when the group first assigns them to it.
  std::vector<std::unique_ptr<SourceSplit>> CreateSplitsAfter(
      const std::vector<std::string>& positions, int max_splits,
      OperatorMetrics* metrics) const override {
    (void)max_splits;
    RestoredPartitions restored;
    for (const std::string& position : positions) {
      PositionReader reader(position, kKafkaPositionTag, name_);
      std::string topic = reader.GetString();
      const int64_t partition = reader.GetInt();
      const bool read_here = reader.GetInt() != 0;
      RestoredPartition resume;
      resume.next_offset = reader.GetInt();
      resume.stop_offset = reader.GetInt();
      resume.next_part = static_cast<uint64_t>(reader.GetInt());
      reader.ExpectEnd();
      if (std::find(kafka_.topics.begin(), kafka_.topics.end(), topic) == kafka_.topics.end()) {
        throw UserError(name_ + ": the checkpoint was taken reading topic '" + topic +
                        "', which this source does not read; restore the job it was taken of, "
                        "or start without the checkpoint");
      }
      if (!read_here) continue;  // another member of the group read it
      restored[{std::move(topic), static_cast<int32_t>(partition)}] = resume;
    }
    return SplitsOf(std::make_shared<KafkaReadSession>(kafka_, name_, std::move(restored)), metrics);
  }

 private:
  std::vector<std::unique_ptr<SourceSplit>> SplitsOf(std::shared_ptr<KafkaReadSession> session,
                                                     OperatorMetrics* metrics) const {
    session->ReportTo(metrics);
    std::vector<std::unique_ptr<SourceSplit>> splits;
    for (size_t index = 0; index < session->ranges().size(); ++index) {
      splits.push_back(std::make_unique<KafkaPartitionSplit>(session, index, kafka_, value_schema_,
                                                             options_, metrics));
    }
    return splits;
  }

  std::string JoinTopics() const {
    std::string joined;
    for (const auto& topic : kafka_.topics) joined += (joined.empty() ? "" : ", ") + topic;
    return joined;
  }

  KafkaSourceOptions kafka_;
  SchemaPtr value_schema_;
  SourceOptions options_;
  std::string name_;
  SchemaPtr schema_;
};

}  // namespace

KafkaStart ParseKafkaStart(const std::string& name, int64_t timestamp_ms) {
  KafkaStart start;
  start.timestamp_ms = timestamp_ms;
  if (name == "earliest") {
    start.kind = KafkaStart::Kind::kEarliest;
  } else if (name == "latest") {
    start.kind = KafkaStart::Kind::kLatest;
  } else if (name == "committed") {
    start.kind = KafkaStart::Kind::kCommitted;
  } else if (name == "timestamp") {
    start.kind = KafkaStart::Kind::kTimestamp;
  } else {
    throw UserError("read_kafka: start must be 'earliest', 'latest', 'committed' or a timestamp, "
                    "got '" + name + "'");
  }
  return start;
}

std::shared_ptr<Source> MakeKafkaSource(KafkaSourceOptions kafka, SchemaPtr schema,
                                        SourceOptions options) {
  return std::make_shared<KafkaSource>(std::move(kafka), std::move(schema), options);
}

}  // namespace millstream
