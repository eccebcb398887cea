// Checkpoints of every keyed operator state (ops/keyed_snapshot.h): run input A, Snapshot, then
// input B on the original AND on states restored from the snapshot (at the same parallelism and
// rescaled to other key-group ranges); what comes out after the snapshot must be the same. Over
// both backends, with the state beyond the hot budget (spilled to RocksDB) too, on random
// out-of-order input with late rows.
#include "ops/keyed_snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include "../formats/text_file_testing.h"  // TempDir
#include "core/error.h"
#include "core/key_groups.h"
#include "keyed_operator_harness.h"  // RowsOf, RowString
#include "ops/interval_join.h"
#include "ops/window_aggregate.h"
#include "state/state_backend.h"
#include "state/state_factory.h"

namespace millstream {
namespace {

constexpr int kMaxParallelism = 128;
// Stands for a watermark step in a subtask's output (sorted out of the rows when compared).
const std::string kWatermarkMark = "~watermark";

// One step of a run: rows of one input, or a watermark.
struct Step {
  int input = 0;
  BatchPtr rows;  // null: a watermark
  int64_t watermark_ms = 0;
};

// Each output row as text, prefixed by its port, in emission order.
class TextEmitter final : public Emitter {
 public:
  void Emit(int port, BatchPtr batch) override {
    if (batch->num_rows() == 0) return;
    auto table = CheckArrow(arrow::Table::FromRecordBatches({batch}), "table");
    for (const testing::Row& row : testing::RowsOf(*table)) {
      rows.push_back(std::to_string(port) + ":" + testing::RowString(row));
    }
  }
  std::vector<std::string> rows;
};

struct Backend {
  std::string kind;
  int64_t hot_state_bytes;
};

// The subtasks of one run of `op`, driven as the runtime drives them.
class Subtasks {
 public:
  // A fresh run, or (restore_from not empty) one restored from the snapshot directories of an
  // earlier run's subtasks, given with the key groups each held.
  Subtasks(const KeyedOperator& op, int parallelism, const Backend& backend,
           StateEnvironment& environment, const std::string& operator_id,
           const std::vector<std::pair<std::string, std::pair<int, int>>>& restore_from = {},
           int64_t restored_watermark_ms = kMinWatermarkMs)
      : op_(op), parallelism_(parallelism), emitters_(parallelism) {
    for (int p = 0; p < parallelism; ++p) {
      SubtaskContext context;
      context.subtask = p;
      context.parallelism = parallelism;
      context.max_parallelism = kMaxParallelism;
      std::tie(context.first_key_group, context.end_key_group) =
          KeyGroupRange(p, parallelism, kMaxParallelism);
      context.metrics = &metrics_;
      context.hot_state_bytes = backend.hot_state_bytes;
      std::vector<std::string> checkpoints;
      for (const auto& [directory, range] : restore_from) {
        if (range.first >= context.end_key_group || range.second <= context.first_key_group) continue;
        context.restore_from.push_back(directory);
        checkpoints.push_back(BackendCheckpointDirectory(directory));
      }
      if (restore_from.empty()) {
        context.state = environment.MakeBackend(operator_id, p);
      } else {
        context.state = environment.RestoreBackend(operator_id, p, checkpoints,
                                                   context.first_key_group, context.end_key_group);
        context.restored_watermark_ms = restored_watermark_ms;
      }
      ranges_.emplace_back(context.first_key_group, context.end_key_group);
      states_.push_back(op.CreateState(std::move(context)));
    }
  }

  void Run(const Step& step) {
    if (!step.rows) {
      watermark_ms_ = step.watermark_ms;
      for (int p = 0; p < parallelism_; ++p) {
        states_[p]->OnWatermark(step.watermark_ms, emitters_[p]);
        emitters_[p].rows.push_back(kWatermarkMark);
      }
      return;
    }
    std::vector<uint16_t> key_groups;
    ComputeKeyGroups(*step.rows, op_.input_key_columns(step.input), kMaxParallelism, &key_groups);
    for (int p = 0; p < parallelism_; ++p) {
      arrow::Int64Builder take;
      std::vector<uint16_t> mine;
      for (int64_t i = 0; i < step.rows->num_rows(); ++i) {
        if (SubtaskOfKeyGroup(key_groups[i], parallelism_, kMaxParallelism) != p) continue;
        CheckArrow(take.Append(i), "take");
        mine.push_back(key_groups[i]);
      }
      if (mine.empty()) continue;
      auto indices = CheckArrow(take.Finish(), "take");
      BatchPtr part = CheckArrow(arrow::compute::Take(step.rows, indices), "take").record_batch();
      states_[p]->OnInputBatch(step.input, part, mine, nullptr, emitters_[p]);
    }
  }

  void End() {
    for (int p = 0; p < parallelism_; ++p) {
      states_[p]->OnWatermark(kFinalWatermarkMs, emitters_[p]);
      states_[p]->OnEnd(emitters_[p]);
    }
  }

  // Snapshots every subtask into <directory>/subtask-<p>; returns them with their key groups.
  std::vector<std::pair<std::string, std::pair<int, int>>> Snapshot(const std::string& directory,
                                                                    int64_t checkpoint_id) {
    std::vector<std::pair<std::string, std::pair<int, int>>> snapshots;
    for (int p = 0; p < parallelism_; ++p) {
      SnapshotTarget target;
      target.checkpoint_id = checkpoint_id;
      target.directory = directory + "/subtask-" + std::to_string(p);
      std::filesystem::create_directories(target.directory);
      states_[p]->Snapshot(target);
      snapshots.emplace_back(target.directory, ranges_[p]);
    }
    return snapshots;
  }

  // Output rows of each subtask since the last call.
  std::vector<std::vector<std::string>> TakeOutput() {
    std::vector<std::vector<std::string>> output;
    for (TextEmitter& emitter : emitters_) output.push_back(std::move(emitter.rows));
    emitters_.assign(parallelism_, TextEmitter());
    return output;
  }
  int64_t watermark_ms() const { return watermark_ms_; }
  const OperatorMetrics& metrics() const { return metrics_; }

 private:
  const KeyedOperator& op_;
  int parallelism_;
  OperatorMetrics metrics_{"checkpointed"};
  std::vector<TextEmitter> emitters_;
  std::vector<std::pair<int, int>> ranges_;
  std::vector<std::unique_ptr<KeyedOperatorState>> states_;
  int64_t watermark_ms_ = kMinWatermarkMs;
};

std::vector<std::string> Sorted(const std::vector<std::vector<std::string>>& per_subtask) {
  std::vector<std::string> all;
  for (const auto& rows : per_subtask) {
    for (const std::string& row : rows) {
      if (row != kWatermarkMark) all.push_back(row);
    }
  }
  std::sort(all.begin(), all.end());
  return all;
}

// Each subtask's output with the rows between two watermarks sorted: the join expires the
// keys due at a watermark in no particular order (ops/timer_buckets.h), all else is ordered.
std::vector<std::vector<std::string>> SortedBetweenWatermarks(
    std::vector<std::vector<std::string>> per_subtask) {
  for (auto& rows : per_subtask) {
    auto segment = rows.begin();
    for (auto it = rows.begin(); it != rows.end(); ++it) {
      if (*it != kWatermarkMark) continue;
      std::sort(segment, it);
      segment = it + 1;
    }
    std::sort(segment, rows.end());
  }
  return per_subtask;
}

SchemaPtr EventSchema() {
  return arrow::schema({arrow::field("k", arrow::int64()), arrow::field("ts", arrow::int64()),
                        arrow::field("v", arrow::float64())});
}

// Random events: keys (a few null), times advancing with disorder (some rows far behind: late),
// values in quarters (sums exact in any order) or null; cut into random batches of two inputs
// (the second only for a join), with watermarks = max time - delay now and then.
std::vector<Step> RandomSteps(int64_t rows, int64_t keys, int inputs, std::mt19937_64& random) {
  std::uniform_int_distribution<int64_t> key(0, keys - 1), coin(0, 99), value(-400, 400),
      jitter(0, 3'000), batch(1, 60);
  std::vector<Step> steps;
  int64_t max_seen = 0, last_watermark = INT64_MIN;
  int64_t i = 0;
  while (i < rows) {
    const int64_t n = std::min(batch(random), rows - i);
    arrow::Int64Builder k, ts;
    arrow::DoubleBuilder v;
    for (int64_t r = 0; r < n; ++r, ++i) {
      CheckArrow(coin(random) < 2 ? k.AppendNull() : k.Append(key(random) * 7 - 3), "k");
      int64_t time_ms = 1'000'000 + i * 40 - jitter(random);
      if (coin(random) < 3) time_ms -= 20'000;  // far behind: late for its windows
      max_seen = std::max(max_seen, time_ms);
      CheckArrow(ts.Append(time_ms), "ts");
      CheckArrow(coin(random) < 10 ? v.AppendNull() : v.Append(value(random) * 0.25), "v");
    }
    Step step;
    step.input = inputs == 2 ? static_cast<int>(coin(random) % 2) : 0;
    step.rows = arrow::RecordBatch::Make(EventSchema(), n,
                                         {CheckArrow(k.Finish(), "k"), CheckArrow(ts.Finish(), "ts"),
                                          CheckArrow(v.Finish(), "v")});
    steps.push_back(step);
    const int64_t watermark_ms = max_seen - 2'000;
    if (coin(random) < 30 && watermark_ms > last_watermark) {
      steps.push_back(Step{0, nullptr, watermark_ms});
      last_watermark = watermark_ms;
    }
  }
  return steps;
}

struct Case {
  std::string name;
  std::shared_ptr<KeyedOperator> op;
  int inputs = 1;
  bool ordered_between_watermarks = true;
};

std::vector<AggregateSpec> Aggregates() {
  return {{"count", -1, "n"}, {"sum", 2, "total"}, {"first", 2, "first_v"},
          {"last", 2, "last_v"}, {"max", 2, "top"}, {"mean", 2, "average"}};
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  cases.push_back({"running", MakeRunningAggregate(EventSchema(), {0}, Aggregates())});
  WindowSpec tumbling;
  tumbling.kind = WindowSpec::Kind::kTumbling;
  tumbling.size_ms = 5'000;
  cases.push_back({"tumbling", MakeWindowAggregate(EventSchema(), {0}, 1, tumbling, 1'500, Aggregates())});
  WindowSpec sliding;
  sliding.kind = WindowSpec::Kind::kSliding;
  sliding.size_ms = 6'000;
  sliding.slide_ms = 2'000;
  cases.push_back({"sliding", MakeWindowAggregate(EventSchema(), {0}, 1, sliding, 1'000, Aggregates())});
  WindowSpec session;
  session.kind = WindowSpec::Kind::kSession;
  session.gap_ms = 1'500;
  cases.push_back({"session", MakeWindowAggregate(EventSchema(), {0}, 1, session, 1'000, Aggregates())});
  IntervalJoinSpec join;
  join.keys[0] = join.keys[1] = {0};
  join.time_columns[0] = join.time_columns[1] = 1;
  join.lower_ms = -8'000;
  join.upper_ms = 15'000;
  join.outer[0] = join.outer[1] = true;
  join.merge_keys = true;
  cases.push_back({"join", MakeIntervalJoin(EventSchema(), EventSchema(), join), 2, false});
  return cases;
}

class KeyedSnapshot : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// Runs the case's random input on `from` subtasks, snapshots after `checkpoint_step` steps (and
// several times before), and compares what the original run says after the last snapshot with
// runs restored from it at each of `to`.
void CheckRestores(const Case& c, const Backend& backend, int from, const std::vector<int>& to,
                   uint32_t seed) {
  std::mt19937_64 random(seed);
  const std::vector<Step> steps = RandomSteps(3'000, 300, c.inputs, random);
  const size_t checkpoint_step = steps.size() / 3 + random() % (steps.size() / 3);
  testing::TempDir scratch;
  StateOptions options;
  options.kind = backend.kind;
  options.cache_bytes = 16 << 20;
  options.directory = (scratch.path() / "state").string();
  auto environment = StateEnvironment::Create(options);

  // Checkpoints every few steps before the one restored from: what an entry's copy from an
  // earlier checkpoint still holds (an entry not touched since is not written again) counts.
  Subtasks original(*c.op, from, backend, environment.operator*(), "op");
  constexpr int kEarlierCheckpoints = 6;
  std::vector<std::pair<std::string, std::pair<int, int>>> snapshots;
  size_t s = 0;
  for (int checkpoint = 1; checkpoint <= kEarlierCheckpoints + 1; ++checkpoint) {
    for (const size_t until = checkpoint_step * checkpoint / (kEarlierCheckpoints + 1); s < until; ++s) {
      original.Run(steps[s]);
    }
    snapshots = original.Snapshot((scratch.path() / ("chk-" + std::to_string(checkpoint))).string(),
                                  checkpoint);
  }
  const int64_t watermark_ms = original.watermark_ms();
  original.TakeOutput();
  for (size_t s = checkpoint_step; s < steps.size(); ++s) original.Run(steps[s]);
  original.End();
  const auto expected = original.TakeOutput();
  ASSERT_FALSE(Sorted(expected).empty());

  for (int parallelism : to) {
    SCOPED_TRACE(c.name + " " + backend.kind + " hot " + std::to_string(backend.hot_state_bytes) +
                 ": " + std::to_string(from) + " -> " + std::to_string(parallelism));
    Subtasks restored(*c.op, parallelism, backend, environment.operator*(),
                      "restored-" + std::to_string(parallelism), snapshots, watermark_ms);
    for (size_t s = checkpoint_step; s < steps.size(); ++s) restored.Run(steps[s]);
    restored.End();
    const auto actual = restored.TakeOutput();
    if (parallelism == from && c.ordered_between_watermarks) {
      EXPECT_EQ(actual, expected);  // each subtask's output, in order
    } else if (parallelism == from) {
      EXPECT_EQ(SortedBetweenWatermarks(actual), SortedBetweenWatermarks(expected));
    } else {
      EXPECT_EQ(Sorted(actual), Sorted(expected));
    }
  }
}

TEST_P(KeyedSnapshot, RestoredRunsSayWhatTheOriginalSays) {
  const auto& [name, backend_name] = GetParam();
  for (const Case& c : Cases()) {
    if (c.name != name) continue;
    std::vector<Backend> backends;
    if (backend_name == "memory") {
      backends.push_back({"memory", -1});
    } else {
      backends.push_back({"rocksdb", 64 << 20});  // all hot: written out at the barrier
      backends.push_back({"rocksdb", 16 << 10});  // far beyond the hot budget: spilled
    }
    uint32_t seed = 17;
    for (const Backend& backend : backends) {
      CheckRestores(c, backend, 1, {1, 4}, seed++);
      CheckRestores(c, backend, 2, {2, 1, 3}, seed++);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Operators, KeyedSnapshot,
    ::testing::Combine(::testing::Values("running", "tumbling", "sliding", "session", "join"),
                       ::testing::Values("memory", "rocksdb")),
    [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

}  // namespace
}  // namespace millstream
