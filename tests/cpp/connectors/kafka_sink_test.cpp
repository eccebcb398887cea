// The Kafka sink's checkpoint protocol against librdkafka's mock cluster: a transaction per
// checkpoint, messages after a barrier held back until its commit, and a restore that sends the
// restored checkpoint's transaction again when it never committed. The mock does not hide
// aborted transactions from readers (BUILD-NOTES.md), so what is checked is what the sink sends
// and commits, and which transactions a read shows, not read_committed isolation itself.
#include "connectors/kafka_sink.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../formats/text_file_testing.h"
#include "connectors/mock_kafka_cluster.h"

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

BatchPtr Ids(int64_t first, int64_t count) {
  arrow::Int64Builder ids;
  for (int64_t id = first; id < first + count; ++id) CheckArrow(ids.Append(id), "id");
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("id", arrow::int64())}), count,
                                  {CheckArrow(ids.Finish(), "ids")});
}

std::unique_ptr<FileSink> MakeSink(const MockKafkaCluster& cluster, const std::string& id) {
  KafkaSinkOptions options;
  options.topic = "out";
  options.brokers = cluster.bootstrap_servers();
  options.transactional_id = id;
  return MakeKafkaSink(options, Ids(0, 1)->schema());
}

std::vector<std::string> Values(MockKafkaCluster& cluster) {
  std::vector<std::string> values;
  for (const KafkaRecord& record : cluster.Consume("out", 10000)) values.push_back(record.value);
  return values;
}

std::vector<std::string> Expected(std::initializer_list<std::pair<int64_t, int64_t>> runs) {
  std::vector<std::string> values;
  for (const auto& [first, count] : runs) {
    for (int64_t id = first; id < first + count; ++id) values.push_back("{\"id\":" + std::to_string(id) + "}");
  }
  return values;
}

TEST(KafkaSinkTransactions, OneTransactionPerCheckpointAndARestoreResendsTheUncommittedOne) {
  MockKafkaCluster cluster(1);
  cluster.CreateTopic("out", 1);
  TempDir dir;
  const std::string chk1 = dir.File("chk-1");
  const std::string chk2 = dir.File("chk-2");
  std::filesystem::create_directories(chk1);
  std::filesystem::create_directories(chk2);
  {
    auto sink = MakeSink(cluster, "job-sink-0");
    sink->Write(Ids(0, 5));
    sink->PrepareCheckpoint({1, chk1, ""});
    sink->Write(Ids(5, 3));  // after the barrier: held until checkpoint 1 commits
    // Sent and acknowledged at the barrier (the mock shows them before their commit); the
    // messages after the barrier are not sent yet.
    EXPECT_EQ(Values(cluster), Expected({{0, 5}}));
    sink->CommitCheckpoint(1);
    EXPECT_TRUE(std::filesystem::exists(chk1 + "/committed"));
    sink->PrepareCheckpoint({2, chk2, chk1});
    // Killed here: checkpoint 2 completed, its transaction (ids 5..7) never committed.
  }
  EXPECT_FALSE(std::filesystem::exists(chk2 + "/committed"));
  {
    auto sink = MakeSink(cluster, "job-sink-0");  // fences the old producer, aborts its transaction
    sink->Restore(chk2);
    EXPECT_TRUE(std::filesystem::exists(chk2 + "/committed"));
    sink->Write(Ids(8, 4));
    sink->Finish();
  }
  // The mock shows the aborted transaction's messages too (ids 5..7 once aborted, once again
  // committed by the restore); with a broker that isolates, read_committed sees 0..11 once.
  EXPECT_EQ(Values(cluster), Expected({{0, 5}, {5, 3}, {5, 3}, {8, 4}}));
  {
    // Restoring a checkpoint whose transaction committed sends nothing again.
    auto sink = MakeSink(cluster, "job-sink-0");
    sink->Restore(chk1);
    sink->Finish();
  }
  EXPECT_EQ(Values(cluster).size(), 15u);
}

TEST(KafkaSinkTransactions, WithoutATransactionalIdCheckpointsFlushAndRestoreSendsNothing) {
  MockKafkaCluster cluster(1);
  cluster.CreateTopic("out", 1);
  TempDir dir;
  auto sink = MakeSink(cluster, "");
  sink->Write(Ids(0, 4));
  sink->PrepareCheckpoint({1, dir.path().string(), ""});
  EXPECT_EQ(Values(cluster), Expected({{0, 4}}));  // acknowledged at the checkpoint
  sink->Restore(dir.path().string());
  sink->Finish();
  EXPECT_EQ(Values(cluster), Expected({{0, 4}}));
}

}  // namespace
}  // namespace millstream
