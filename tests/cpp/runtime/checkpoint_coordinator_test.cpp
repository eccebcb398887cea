// Checkpoints (runtime/checkpoint_coordinator.h): a checkpoint completes when every part acked,
// its MANIFEST is written last, retention keeps the newest, a damaged checkpoint is passed
// over for the one before; and through the executor, sinks align barriers over inputs that
// run at different speeds and end at different times, so that a run cancelled at any moment
// and restored from its latest checkpoint gives the rows of a clean run, once each, in order.
#include "runtime/checkpoint_coordinator.h"

#include <arrow/builder.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "connectors/source.h"
#include "core/error.h"
#include "plan/plan_parser.h"
#include "runtime/executor.h"

namespace millstream {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the test's temporary directory.
std::string FreshDirectory(const std::string& name) {
  const fs::path path = fs::temp_directory_path() / ("millstream_ckpt_test_" + name + "_" +
                                                     std::to_string(::getpid()));
  fs::remove_all(path);
  fs::create_directories(path);
  return path.string();
}

Plan OnePartPlan() {
  return ParsePlan(R"js({"version": 1, "parallelism": 1, "max_parallelism": 128,
    "state": {"kind": "memory", "directory": "", "cache_bytes": 1048576},
    "nodes": [{"id": 0, "op": "source", "inputs": [], "label": "numbers", "handle": 0},
              {"id": 1, "op": "sink", "inputs": [0], "label": "collect", "sink": "collect"}]})js");
}

TEST(CheckpointCoordinatorTest, ManifestIsWrittenWhenTheLastPartAcks) {
  const std::string directory = FreshDirectory("manifest_last");
  CheckpointMetrics metrics;
  CheckpointCoordinator coordinator({.directory = directory, .kept = 2}, PrintOperators(OnePartPlan()),
                                    2, 128, 1, &metrics);
  const int split0 = coordinator.AddSource(0, 0);
  const int split1 = coordinator.AddSource(0, 1);
  const int sink = coordinator.AddSink(1);
  std::vector<int64_t> started;
  coordinator.SetHooks([&](int64_t id) { started.push_back(id); }, nullptr);
  EXPECT_EQ(coordinator.Request(), 1);
  coordinator.StartIfRequested();
  ASSERT_EQ(started, std::vector<int64_t>{1});
  EXPECT_EQ(coordinator.PendingFor(split0), 1);
  coordinator.AckSource(split0, 1, "p0", {7, 8});
  EXPECT_EQ(coordinator.PendingFor(split0), 0);
  // A split that ends owes the checkpoint under way its barrier, and acks with its end.
  EXPECT_EQ(coordinator.SourceEnded(split1, "end1", {}), 1);
  const SnapshotTarget target = coordinator.TargetFor(sink, 1);
  std::ofstream(target.directory + "/rows") << "some rows";
  EXPECT_FALSE(fs::exists(directory + "/chk-1/MANIFEST"));
  EXPECT_EQ(coordinator.Request(), 2);  // asked while 1 is under way: the next one covers it
  coordinator.AckSink(sink, 1, false);
  ASSERT_TRUE(fs::exists(directory + "/chk-1/MANIFEST"));
  const CheckpointManifest manifest = ReadManifest(directory + "/chk-1");
  EXPECT_EQ(manifest.checkpoint_id, 1);
  ASSERT_EQ(manifest.sources.size(), 2u);
  EXPECT_EQ(manifest.sources[0].position, "p0");
  EXPECT_EQ(manifest.sources[0].chain_state, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(manifest.sources[1].position, "end1");
  ASSERT_EQ(manifest.files.size(), 1u);
  EXPECT_EQ(manifest.files[0].path, "sink1/rows");
  EXPECT_EQ(manifest.files[0].size_bytes, 9);
  EXPECT_EQ(VerifyCheckpoint(directory + "/chk-1", manifest), "");
  EXPECT_EQ(metrics.last_id.load(), 1);
  EXPECT_EQ(metrics.last_size_bytes.load(), 9);
  // Checkpoint 2 started on completion of 1 (it was asked for); the ended split acked it.
  ASSERT_EQ(started, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(coordinator.PendingFor(split1), 0);
  EXPECT_EQ(coordinator.SourceEnded(split1, "end1", {}), 0);
  EXPECT_EQ(coordinator.TargetFor(sink, 2).previous_directory, directory + "/chk-1/sink1");
  coordinator.AckSource(split0, 2, "p0b", {});
  EXPECT_FALSE(coordinator.WaitFor(2, std::chrono::milliseconds(1)));
  coordinator.AckSink(sink, 2, false);
  EXPECT_TRUE(coordinator.WaitFor(2, std::chrono::milliseconds(1)));
  // Retention: with kept = 2, a third checkpoint removes the first.
  coordinator.Request();
  coordinator.StartIfRequested();
  coordinator.AckSource(split0, 3, "p0c", {});
  coordinator.TargetFor(sink, 3);
  coordinator.AckSink(sink, 3, false);
  EXPECT_FALSE(fs::exists(directory + "/chk-1"));
  EXPECT_TRUE(fs::exists(directory + "/chk-2/MANIFEST"));
  EXPECT_TRUE(fs::exists(directory + "/chk-3/MANIFEST"));
  EXPECT_EQ(metrics.completed.load(), 3);
  coordinator.Close();
  EXPECT_EQ(coordinator.Request(), 0);
  fs::remove_all(directory);
}

// Writes checkpoint `id` with a sink part holding `bytes`, through a coordinator.
void WriteCheckpoint(const std::string& directory, int64_t id, const std::string& bytes) {
  CheckpointMetrics metrics;
  CheckpointCoordinator coordinator({.directory = directory, .kept = 10},
                                    PrintOperators(OnePartPlan()), 1, 128, id, &metrics);
  const int sink = coordinator.AddSink(1);
  coordinator.Request();
  coordinator.StartIfRequested();
  std::ofstream(coordinator.TargetFor(sink, id).directory + "/rows") << bytes;
  coordinator.AckSink(sink, id, false);
}

TEST(CheckpointCoordinatorTest, DamagedCheckpointsArePassedOverForTheOneBefore) {
  const std::string directory = FreshDirectory("damaged");
  WriteCheckpoint(directory, 1, "first");
  WriteCheckpoint(directory, 2, "second");
  WriteCheckpoint(directory, 3, "third");
  fs::create_directories(directory + "/chk-4/sink1");  // a crash before its MANIFEST
  std::vector<std::string> skipped;
  EXPECT_EQ(FindLatestCheckpoint(directory, &skipped), directory + "/chk-3");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("chk-4"), std::string::npos);
  EXPECT_NE(skipped[0].find("no MANIFEST"), std::string::npos);
  // A truncated file (size differs), then a changed one (same size, CRC differs).
  std::ofstream(directory + "/chk-3/sink1/rows", std::ios::trunc) << "thi";
  std::ofstream(directory + "/chk-2/sink1/rows", std::ios::trunc) << "SECOND";
  skipped.clear();
  EXPECT_EQ(FindLatestCheckpoint(directory, &skipped), directory + "/chk-1");
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_NE(skipped[1].find("has 3 bytes"), std::string::npos) << skipped[1];
  EXPECT_NE(skipped[2].find("fails its CRC"), std::string::npos) << skipped[2];
  // A torn MANIFEST (no end line) is damaged too.
  const std::string manifest = ReadWholeFile(directory + "/chk-1/MANIFEST");
  std::ofstream(directory + "/chk-1/MANIFEST", std::ios::trunc) << manifest.substr(0, manifest.size() / 2);
  skipped.clear();
  EXPECT_EQ(FindLatestCheckpoint(directory, &skipped), "");
  EXPECT_EQ(skipped.size(), 4u);
  EXPECT_EQ(LargestCheckpointId(directory), 4);
  fs::remove_all(directory);
}

TEST(CheckpointCoordinatorTest, PlanChangesAreRefusedNamingTheOperator) {
  CheckpointManifest manifest;
  manifest.operators = PrintOperators(OnePartPlan());
  EXPECT_NO_THROW(CheckPlanMatches(manifest, OnePartPlan(), "chk-1"));
  manifest.operators[0].node_json += " ";
  try {
    CheckPlanMatches(manifest, OnePartPlan(), "chk-1");
    FAIL() << "a changed operator was accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("operator 'numbers' (op 'source', node 0)"),
              std::string::npos) << error.what();
  }
}

// ---- through the executor ------------------------------------------------------------------

SchemaPtr NumberSchema() { return arrow::schema({arrow::field("n", arrow::int64())}); }

// Chunks of `rows_per_chunk` numbers from `first`, one chunk a step, sleeping `pause` before
// each: one source of the union runs slower than the other, so that barriers reach the sink's
// inputs at different times. Position: the next chunk.
class SlowSplit final : public SourceSplit {
 public:
  SlowSplit(int64_t first, int64_t chunks, int64_t next_chunk, std::chrono::microseconds pause)
      : first_(first), chunks_(chunks), next_(next_chunk), pause_(pause) {}
  SplitOutput Next() override {
    SplitOutput output;
    if (next_ >= chunks_) {
      output.end = true;
      return output;
    }
    std::this_thread::sleep_for(pause_);
    arrow::Int64Builder numbers;
    for (int64_t row = 0; row < kRowsPerChunk; ++row) {
      CheckArrow(numbers.Append(first_ + next_ * kRowsPerChunk + row), "n");
    }
    output.rows = arrow::RecordBatch::Make(NumberSchema(), kRowsPerChunk, {CheckArrow(numbers.Finish(), "n")});
    output.position = ChunkPosition(next_, 0);
    ++next_;
    return output;
  }
  std::string Position() const override { return std::to_string(next_); }
  static constexpr int64_t kRowsPerChunk = 3;

 private:
  int64_t first_, chunks_, next_;
  std::chrono::microseconds pause_;
};

class SlowSource final : public Source {
 public:
  SlowSource(int64_t first, int64_t chunks, std::chrono::microseconds pause)
      : first_(first), chunks_(chunks), pause_(pause) {}
  SchemaPtr schema() const override { return NumberSchema(); }
  std::string name() const override { return "slow"; }
  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int, OperatorMetrics*) const override {
    std::vector<std::unique_ptr<SourceSplit>> splits;
    splits.push_back(std::make_unique<SlowSplit>(first_, chunks_, 0, pause_));
    return splits;
  }
  std::vector<std::unique_ptr<SourceSplit>> CreateSplitsAfter(const std::vector<std::string>& positions,
                                                              int, OperatorMetrics*) const override {
    EXPECT_EQ(positions.size(), 1u);
    std::vector<std::unique_ptr<SourceSplit>> splits;
    splits.push_back(std::make_unique<SlowSplit>(first_, chunks_, std::stoll(positions.at(0)), pause_));
    return splits;
  }

 private:
  int64_t first_, chunks_;
  std::chrono::microseconds pause_;
};

// Two sources (the short one ends long before the other) -> union -> collect.
const char* const kUnionPlan = R"js({"version": 1, "parallelism": 2, "max_parallelism": 128,
    "state": {"kind": "memory", "directory": "", "cache_bytes": 1048576},
    "nodes": [{"id": 0, "op": "source", "inputs": [], "label": "fast", "handle": 0},
              {"id": 1, "op": "source", "inputs": [], "label": "slow", "handle": 1},
              {"id": 2, "op": "union", "inputs": [0, 1], "label": "union"},
              {"id": 3, "op": "sink", "inputs": [2], "label": "collect", "sink": "collect"}]})js";

PlanHandles UnionHandles() {
  PlanHandles handles;
  handles.sources.push_back(std::make_shared<SlowSource>(0, 40, std::chrono::microseconds(200)));
  handles.sources.push_back(std::make_shared<SlowSource>(100000, 300, std::chrono::microseconds(1000)));
  return handles;
}

std::vector<int64_t> Numbers(const RunResult& result) {
  std::vector<int64_t> numbers;
  for (const BatchPtr& batch : result.collected.begin()->second) {
    const auto& column = static_cast<const arrow::Int64Array&>(*batch->column(0));
    for (int64_t row = 0; row < column.length(); ++row) numbers.push_back(column.Value(row));
  }
  return numbers;
}

TEST(CheckpointExecutorTest, ARunCancelledAnywhereRestoresToTheCleanRunsRows) {
  std::atomic<bool> no_cancel{false};
  const std::vector<int64_t> clean = Numbers(Executor(ParsePlan(kUnionPlan), UnionHandles()).Run(no_cancel));
  ASSERT_EQ(clean.size(), static_cast<size_t>((40 + 300) * SlowSplit::kRowsPerChunk));
  for (int64_t cancel_after : {1, 4}) {
    const std::string directory = FreshDirectory("union_" + std::to_string(cancel_after));
    {
      Executor executor(ParsePlan(kUnionPlan), UnionHandles(),
                        {.directory = directory, .interval_ms = 5, .kept = 3});
      std::atomic<bool> cancel{false};
      std::thread canceller([&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (executor.metrics().checkpoints.completed.load() < cancel_after &&
               std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        cancel = true;
      });
      EXPECT_THROW(executor.Run(cancel), Cancelled);
      canceller.join();
      EXPECT_GE(executor.metrics().checkpoints.completed.load(), cancel_after);
    }
    std::vector<std::string> skipped;
    const std::string latest = FindLatestCheckpoint(directory, &skipped);
    ASSERT_FALSE(latest.empty()) << "cancelled after " << cancel_after;
    Executor restored(ParsePlan(kUnionPlan), UnionHandles(),
                      {.directory = directory, .interval_ms = 5, .kept = 3, .restore_from = latest});
    EXPECT_EQ(Numbers(restored.Run(no_cancel)), clean) << "restored from " << latest;
    EXPECT_FALSE(fs::exists(latest)) << "a bounded run that ended removes its checkpoints";
    fs::remove_all(directory);
  }
}

}  // namespace
}  // namespace millstream
