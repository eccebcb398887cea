// The Kafka source's checkpoint positions against librdkafka's mock cluster: a run read part of
// each partition, its splits' positions restore a run that reads exactly the rest (each record
// once, in offset order per partition), ends where the first run would have ended (stop="end"
// as seen when the first run began), and starts a partition the checkpoint does not hold at
// `start`.
#include "connectors/kafka_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "../formats/text_file_testing.h"
#include "connectors/mock_kafka_cluster.h"

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

constexpr int kPartitions = 3;

std::vector<KafkaRecord> Records(int first_id, int count, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<KafkaRecord> records;
  for (int id = first_id; id < first_id + count; ++id) {
    KafkaRecord record;
    record.value = "{\"id\": " + std::to_string(id) + "}";
    record.partition = static_cast<int32_t>(random() % kPartitions);
    records.push_back(record);
  }
  return records;
}

std::shared_ptr<Source> MakeSource(const MockKafkaCluster& cluster, bool bounded) {
  KafkaSourceOptions kafka;
  kafka.topics = {"events"};
  kafka.brokers = cluster.bootstrap_servers();
  kafka.bounded = bounded;
  kafka.metadata = {"partition", "offset"};
  SourceOptions options;
  options.batch_size = 16;
  return MakeKafkaSource(kafka, arrow::schema({arrow::field("id", arrow::int64())}), options);
}

struct ReadRow {
  int64_t partition;
  int64_t offset;
  int64_t id;
  uint64_t position;  // of its chunk
};

// Reads up to `chunk_limit` chunks with rows from each split (every split to its end when
// negative) and returns the rows; `positions` gets each split's position afterwards.
std::vector<ReadRow> ReadSplits(std::vector<std::unique_ptr<SourceSplit>>& splits, int chunk_limit,
                                std::vector<std::string>* positions) {
  std::vector<ReadRow> rows;
  for (auto& split : splits) {
    int chunks = 0;
    for (int guard = 0; guard < 2000; ++guard) {
      if (chunk_limit >= 0 && chunks >= chunk_limit) break;
      SplitOutput output = split->Next();
      if (output.rows && output.rows->num_rows() > 0) {
        ++chunks;
        auto ids = std::static_pointer_cast<arrow::Int64Array>(output.rows->GetColumnByName("id"));
        auto partitions =
            std::static_pointer_cast<arrow::Int64Array>(output.rows->GetColumnByName("partition"));
        auto offsets =
            std::static_pointer_cast<arrow::Int64Array>(output.rows->GetColumnByName("offset"));
        for (int64_t i = 0; i < output.rows->num_rows(); ++i) {
          rows.push_back({partitions->Value(i), offsets->Value(i), ids->Value(i), output.position});
        }
      }
      if (output.end) break;
    }
    if (positions != nullptr) positions->push_back(split->Position());
  }
  return rows;
}

// The ids of the records of `records` (as produced, in order), grouped by partition.
std::map<int64_t, std::vector<int64_t>> IdsByPartition(const std::vector<KafkaRecord>& records) {
  std::map<int64_t, std::vector<int64_t>> ids;
  for (const KafkaRecord& record : records) {
    ids[record.partition].push_back(std::stoll(record.value.substr(7)));
  }
  return ids;
}

std::map<int64_t, std::vector<int64_t>> IdsByPartition(std::vector<ReadRow> rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const ReadRow& a, const ReadRow& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  std::map<int64_t, std::vector<int64_t>> ids;
  for (const ReadRow& row : rows) ids[row.partition].push_back(row.id);
  return ids;
}

TEST(KafkaSourcePositions, ABoundedRunRestoredReadsTheRestOnceAndEndsWhereTheFirstWould) {
  OperatorMetrics metrics("read_kafka");  // the splits report their progress there
  MockKafkaCluster cluster(1);
  cluster.CreateTopic("events", kPartitions);
  const std::vector<KafkaRecord> before = Records(0, 600, 1);
  cluster.Produce("events", before);

  std::vector<std::string> positions;
  auto first_splits = MakeSource(cluster, /*bounded=*/true)->CreateSplits(4, &metrics);
  ASSERT_EQ(first_splits.size(), static_cast<size_t>(kPartitions));
  std::vector<ReadRow> rows = ReadSplits(first_splits, 3, &positions);
  first_splits.clear();
  ASSERT_FALSE(rows.empty());
  ASSERT_LT(rows.size(), before.size());

  cluster.Produce("events", Records(10000, 90, 2));  // after the checkpointed run began
  auto restored = MakeSource(cluster, true)->CreateSplitsAfter(positions, 1, &metrics);
  ASSERT_EQ(restored.size(), static_cast<size_t>(kPartitions));
  std::vector<ReadRow> rest = ReadSplits(restored, -1, nullptr);
  rows.insert(rows.end(), rest.begin(), rest.end());

  EXPECT_EQ(IdsByPartition(rows), IdsByPartition(before));
  // Chunk positions go on where the first run's stopped: no two chunks of a partition share one.
  std::map<uint64_t, std::set<int64_t>> offsets_at_position;
  for (const ReadRow& row : rows) offsets_at_position[row.position].insert(row.partition);
  for (const auto& [position, partitions] : offsets_at_position) {
    EXPECT_EQ(partitions.size(), 1u) << "chunk position " << position << " in two partitions";
  }
  std::map<int64_t, uint64_t> last_position;
  for (const ReadRow& row : rows) {
    EXPECT_GE(row.position, last_position[row.partition]) << "partition " << row.partition;
    last_position[row.partition] = row.position;
  }
}

TEST(KafkaSourcePositions, APartitionTheCheckpointDoesNotHoldStartsAtStart) {
  OperatorMetrics metrics("read_kafka");  // the splits report their progress there
  MockKafkaCluster cluster(1);
  cluster.CreateTopic("events", kPartitions);
  const std::vector<KafkaRecord> records = Records(0, 300, 3);
  cluster.Produce("events", records);
  std::vector<std::string> positions;
  auto first_splits = MakeSource(cluster, true)->CreateSplits(1, &metrics);
  std::vector<ReadRow> rows = ReadSplits(first_splits, 2, &positions);
  first_splits.clear();
  // Partition 2's position is left out, as if the partition had been added after the
  // checkpoint: its rows read in the first run are read again, from the earliest offset.
  const int64_t left_out = 2;
  positions.erase(positions.begin() + left_out);
  std::erase_if(rows, [&](const ReadRow& row) { return row.partition == left_out; });
  auto restored = MakeSource(cluster, true)->CreateSplitsAfter(positions, 2, &metrics);
  std::vector<ReadRow> rest = ReadSplits(restored, -1, nullptr);
  rows.insert(rows.end(), rest.begin(), rest.end());
  EXPECT_EQ(IdsByPartition(rows), IdsByPartition(records));
}

TEST(KafkaSourcePositions, AnUnboundedRunRestoredReadsOnFromTheCheckpoint) {
  OperatorMetrics metrics("read_kafka");  // the splits report their progress there
  MockKafkaCluster cluster(1);
  cluster.CreateTopic("events", kPartitions);
  std::vector<KafkaRecord> records = Records(0, 400, 4);
  cluster.Produce("events", records);
  std::vector<std::string> positions;
  auto first_splits = MakeSource(cluster, /*bounded=*/false)->CreateSplits(1, &metrics);
  std::vector<ReadRow> rows = ReadSplits(first_splits, 2, &positions);
  first_splits.clear();
  const std::vector<KafkaRecord> later = Records(5000, 60, 5);
  cluster.Produce("events", later);
  records.insert(records.end(), later.begin(), later.end());
  auto restored = MakeSource(cluster, false)->CreateSplitsAfter(positions, 1, &metrics);
  // Unbounded splits never end: read until every record is there (bounded by a deadline).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (rows.size() < records.size() && std::chrono::steady_clock::now() < deadline) {
    std::vector<ReadRow> more = ReadSplits(restored, 1, nullptr);
    rows.insert(rows.end(), more.begin(), more.end());
  }
  EXPECT_EQ(IdsByPartition(rows), IdsByPartition(records));
}

TEST(KafkaSourcePositions, PositionsOfAnotherTopicOrDamagedAreUserErrors) {
  OperatorMetrics metrics("read_kafka");  // the splits report their progress there
  MockKafkaCluster cluster(1);
  cluster.CreateTopic("events", kPartitions);
  cluster.CreateTopic("other", 1);
  KafkaSourceOptions kafka;
  kafka.topics = {"other"};
  kafka.brokers = cluster.bootstrap_servers();
  auto other = MakeKafkaSource(kafka, arrow::schema({arrow::field("id", arrow::int64())}), {});
  auto splits = other->CreateSplits(1, &metrics);
  const std::vector<std::string> positions = {splits[0]->Position()};
  splits.clear();
  std::string error =
      UserErrorOf([&] { MakeSource(cluster, true)->CreateSplitsAfter(positions, 1, &metrics); });
  EXPECT_NE(error.find("topic 'other'"), std::string::npos) << error;
  error = UserErrorOf([&] { MakeSource(cluster, true)->CreateSplitsAfter({"junk"}, 1, &metrics); });
  EXPECT_NE(error.find("cannot be read back"), std::string::npos) << error;
}

}  // namespace
}  // namespace millstream
