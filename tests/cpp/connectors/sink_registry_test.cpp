// Every sink kind a plan may name is found in the registry and behaves through the Sink
// interface: collect orders by position, callback sees each batch, file kinds write a file only
// at Finish() and none after Abort().
#include "connectors/sink.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "../formats/text_file_testing.h"

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

SchemaPtr XSchema() { return arrow::schema({arrow::field("x", arrow::int64())}); }

BatchPtr Batch(int64_t value) {
  arrow::Int64Builder builder;
  EXPECT_TRUE(builder.Append(value).ok());
  return arrow::RecordBatch::Make(XSchema(), 1, {builder.Finish().ValueOrDie()});
}

int64_t ValueOf(const BatchPtr& batch) {
  return std::static_pointer_cast<arrow::Int64Array>(batch->column(0))->Value(0);
}

TEST(SinkRegistryTest, FindsEveryKindAndOnlyThose) {
  EXPECT_EQ(SinkKindNames(), "collect, callback, csv, jsonl, parquet, kafka");
  for (const char* name : {"collect", "callback", "csv", "jsonl", "parquet", "kafka"}) {
    const SinkKind* kind = FindSinkKind(name);
    ASSERT_NE(kind, nullptr) << name;
    EXPECT_EQ(kind->name, name);
    const std::string kind_name = name;
    EXPECT_EQ(kind->takes_path, kind_name == "csv" || kind_name == "jsonl" || kind_name == "parquet");
    EXPECT_EQ(kind->takes_callback, kind_name == "callback");
    EXPECT_EQ(kind->takes_kafka, kind_name == "kafka");
  }
  EXPECT_EQ(FindSinkKind("kafka_topic"), nullptr);
  EXPECT_EQ(FindSinkKind("CSV"), nullptr);
}

TEST(SinkRegistryTest, CollectReturnsBatchesInPositionOrderWhateverTheArrivalOrder) {
  // Positions (origin, sequence) in a random arrival order; equal positions keep arrival order.
  std::vector<int64_t> order(200);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  auto sink = FindSinkKind("collect")->make({}, XSchema());
  for (int64_t value : order) sink->Write(Batch(value), value / 50, (value % 50) / 2);
  sink->Finish();
  const auto rows = sink->TakeRows();
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), order.size());
  std::vector<int64_t> expected = order;
  std::stable_sort(expected.begin(), expected.end(), [](int64_t a, int64_t b) {
    return std::make_pair(a / 50, (a % 50) / 2) < std::make_pair(b / 50, (b % 50) / 2);
  });
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(ValueOf((*rows)[i]), expected[i]) << i;
}

TEST(SinkRegistryTest, CallbackSeesEachBatchAsItArrivesAndReturnsNoRows) {
  std::vector<int64_t> seen;
  SinkSettings settings;
  settings.callback = [&](const BatchPtr& batch) { seen.push_back(ValueOf(batch)); };
  auto sink = FindSinkKind("callback")->make(settings, XSchema());
  for (int64_t value : {5, 3, 9}) sink->Write(Batch(value), 0, static_cast<uint64_t>(9 - value));
  sink->Finish();
  EXPECT_EQ(seen, (std::vector<int64_t>{5, 3, 9}));
  EXPECT_FALSE(sink->TakeRows().has_value());
}

TEST(SinkRegistryTest, FileKindsWriteTheFileAtFinishAndNoneAfterAbort) {
  TempDir dir;
  for (const char* name : {"csv", "jsonl", "parquet"}) {
    SinkSettings settings;
    settings.path = dir.File(std::string("out.") + name);
    auto sink = FindSinkKind(name)->make(settings, XSchema());
    sink->Write(Batch(42), 0, 0);
    EXPECT_FALSE(std::filesystem::exists(settings.path)) << name;
    sink->Finish();
    ASSERT_TRUE(std::filesystem::exists(settings.path)) << name;
    EXPECT_FALSE(sink->TakeRows().has_value());
    if (std::string(name) == "csv") EXPECT_EQ(ReadFileBytes(settings.path), "x\n42\n");
    if (std::string(name) == "jsonl") EXPECT_EQ(ReadFileBytes(settings.path), "{\"x\":42}\n");

    settings.path = dir.File(std::string("aborted.") + name);
    auto aborted = FindSinkKind(name)->make(settings, XSchema());
    aborted->Write(Batch(1), 0, 0);
    aborted->Abort();
    EXPECT_FALSE(std::filesystem::exists(settings.path)) << name;
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()), 3);  // no temp file left
}

}  // namespace
}  // namespace millstream
