// The interval join's subtask state driven directly (OnInputBatch / OnWatermark), as the keyed
// actor drives it: when pairs and unmatched rows come out relative to the watermark, late rows,
// null keys, the output watermark, and random input against a reference over both backends,
// parallelism (key-group ranges), watermark marks inside batches and a hot budget far below
// the live rows (spill).
#include "ops/interval_join.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <tuple>

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include "core/error.h"
#include "core/key_groups.h"
#include "core/time_arithmetic.h"
#include "state/state_backend.h"
#include "state/state_factory.h"

namespace millstream {
namespace {

constexpr int64_t kMinute = 60'000;

SchemaPtr EventSchema() {
  return arrow::schema({arrow::field("k", arrow::int64()), arrow::field("ts", arrow::int64()),
                        arrow::field("v", arrow::int64())});
}

// Rows (k, ts, v); k nullopt is a null key.
BatchPtr Events(const std::vector<std::tuple<std::optional<int64_t>, int64_t, int64_t>>& rows) {
  arrow::Int64Builder k, ts, v;
  for (const auto& [key, time, value] : rows) {
    CheckArrow(key ? k.Append(*key) : k.AppendNull(), "k");
    CheckArrow(ts.Append(time), "ts");
    CheckArrow(v.Append(value), "v");
  }
  return arrow::RecordBatch::Make(EventSchema(), static_cast<int64_t>(rows.size()),
                                  {CheckArrow(k.Finish(), "k"), CheckArrow(ts.Finish(), "ts"),
                                   CheckArrow(v.Finish(), "v")});
}

IntervalJoinSpec Spec(int64_t lower_ms, int64_t upper_ms, bool left_outer, bool right_outer) {
  IntervalJoinSpec spec;
  spec.keys[0] = spec.keys[1] = {0};
  spec.time_columns[0] = spec.time_columns[1] = 1;
  spec.lower_ms = lower_ms;
  spec.upper_ms = upper_ms;
  spec.outer[0] = left_outer;
  spec.outer[1] = right_outer;
  spec.merge_keys = true;
  return spec;
}

class Collector final : public Emitter {
 public:
  void Emit(int port, BatchPtr batch) override {
    ASSERT_TRUE(port >= 0 && port <= 2) << port;
    if (port > 0) {
      late_rows[port - 1] += batch->num_rows();
      return;
    }
    for (int64_t i = 0; i < batch->num_rows(); ++i) {
      std::vector<std::optional<int64_t>> row;
      for (int c = 0; c < batch->num_columns(); ++c) {
        const auto& column = static_cast<const arrow::Int64Array&>(*batch->column(c));
        row.push_back(column.IsNull(i) ? std::nullopt : std::optional<int64_t>(column.Value(i)));
      }
      rows.push_back(std::move(row));
    }
  }
  void Watermark(int64_t watermark_ms) override { watermarks.push_back(watermark_ms); }
  std::vector<std::vector<std::optional<int64_t>>> rows;  // k, ts, v, ts_right, v_right
  std::vector<int64_t> watermarks;
  int64_t late_rows[2] = {0, 0};  // ports 1 and 2: late left and right rows
};

// One subtask's state over one backend.
struct Subtask {
  Subtask(const KeyedOperator& op, const std::string& backend, int64_t hot_state_bytes = -1,
          int subtask = 0, int parallelism = 1) {
    StateOptions options;
    options.kind = backend;
    environment = StateEnvironment::Create(options);
    SubtaskContext context;
    context.subtask = subtask;
    context.parallelism = parallelism;
    std::tie(context.first_key_group, context.end_key_group) =
        KeyGroupRange(subtask, parallelism, context.max_parallelism);
    context.metrics = &metrics;
    context.state = environment->MakeBackend("join", subtask);
    context.hot_state_bytes = hot_state_bytes;
    state = op.CreateState(std::move(context));
  }
  void Send(int side, const BatchPtr& rows, const WatermarkMarks* marks = nullptr) {
    std::vector<uint16_t> key_groups;
    ComputeKeyGroups(*rows, {0}, 128, &key_groups);
    state->OnInputBatch(side, rows, key_groups, marks, out);
  }
  std::shared_ptr<StateEnvironment> environment;
  OperatorMetrics metrics{"join"};
  std::unique_ptr<KeyedOperatorState> state;
  Collector out;
};

using Row = std::vector<std::optional<int64_t>>;

TEST(IntervalJoinTest, APairComesOutWhenItsSecondRowArrives) {
  auto op = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(-15 * kMinute, 15 * kMinute, true, true));
  Subtask subtask(*op, "memory");
  subtask.Send(0, Events({{1, 0, 10}}));
  EXPECT_TRUE(subtask.out.rows.empty());
  subtask.Send(1, Events({{1, kMinute, 20}}));
  ASSERT_EQ(subtask.out.rows.size(), 1u);
  EXPECT_EQ(subtask.out.rows[0], (Row{1, 0, 10, kMinute, 20}));
  // Both matched: neither comes out alone at the end.
  subtask.state->OnWatermark(kFinalWatermarkMs, subtask.out);
  subtask.state->OnEnd(subtask.out);
  EXPECT_EQ(subtask.out.rows.size(), 1u);
  EXPECT_EQ(subtask.metrics.state_entries.load(), 0);
}

TEST(IntervalJoinTest, AnUnmatchedRowWaitsUntilTheWatermarkPassesItsBound) {
  // B may come 5 minutes before A to 20 minutes after: a left row's bound is ts + 20 min, a
  // right row's ts + 5 min.
  auto op = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(-5 * kMinute, 20 * kMinute, true, true));
  Subtask subtask(*op, "memory");
  subtask.Send(0, Events({{1, 0, 10}}));
  subtask.Send(1, Events({{2, 0, 20}}));
  subtask.state->OnWatermark(5 * kMinute, subtask.out);  // a left row of k=2 at 5 min could still match
  EXPECT_TRUE(subtask.out.rows.empty());
  subtask.state->OnWatermark(5 * kMinute + 1, subtask.out);
  ASSERT_EQ(subtask.out.rows.size(), 1u);
  EXPECT_EQ(subtask.out.rows[0], (Row{2, std::nullopt, std::nullopt, 0, 20}));  // key coalesced
  subtask.state->OnWatermark(20 * kMinute, subtask.out);
  EXPECT_EQ(subtask.out.rows.size(), 1u);
  subtask.state->OnWatermark(20 * kMinute + 1, subtask.out);
  ASSERT_EQ(subtask.out.rows.size(), 2u);
  EXPECT_EQ(subtask.out.rows[1], (Row{1, 0, 10, std::nullopt, std::nullopt}));
  EXPECT_EQ(subtask.metrics.state_entries.load(), 0);  // both rows left the state
}

TEST(IntervalJoinTest, AnInnerSideIsNeverEmittedAloneAndItsStateIsDroppedAllTheSame) {
  auto op = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(-kMinute, kMinute, true, false));
  Subtask subtask(*op, "memory");
  subtask.Send(1, Events({{1, 0, 20}, {2, 0, 21}}));
  EXPECT_EQ(subtask.metrics.state_entries.load(), 2);
  subtask.state->OnWatermark(kMinute + 1, subtask.out);
  EXPECT_TRUE(subtask.out.rows.empty());
  EXPECT_EQ(subtask.metrics.state_entries.load(), 0);
}

TEST(IntervalJoinTest, LateRowsAreCountedAndGoToTheLatePortOfTheirSide) {
  auto op = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(-kMinute, kMinute, true, true));
  EXPECT_EQ(op->num_ports(), 3);
  EXPECT_TRUE(op->output_schema(2)->Equals(*EventSchema()));
  Subtask subtask(*op, "memory");
  subtask.state->OnWatermark(1000, subtask.out);
  subtask.Send(0, Events({{1, 999, 10}, {1, 1000, 11}}));
  subtask.Send(1, Events({{2, 5, 10}, {2, 6, 11}}));
  EXPECT_EQ(subtask.metrics.rows_late.load(), 3);
  EXPECT_EQ(subtask.out.late_rows[0], 1);
  EXPECT_EQ(subtask.out.late_rows[1], 2);
  subtask.state->OnWatermark(kFinalWatermarkMs, subtask.out);
  ASSERT_EQ(subtask.out.rows.size(), 1u);
  EXPECT_EQ(subtask.out.rows[0][2], 11);
}

TEST(IntervalJoinTest, NullKeysNeverMatchAndOuterOnesComeOutAtOnce) {
  auto op = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(-kMinute, kMinute, true, false));
  Subtask subtask(*op, "memory");
  subtask.Send(1, Events({{std::nullopt, 0, 20}}));
  subtask.Send(0, Events({{std::nullopt, 0, 10}}));
  ASSERT_EQ(subtask.out.rows.size(), 1u);
  EXPECT_EQ(subtask.out.rows[0], (Row{std::nullopt, 0, 10, std::nullopt, std::nullopt}));
  EXPECT_EQ(subtask.metrics.state_entries.load(), 0);
}

TEST(IntervalJoinTest, TheOutputWatermarkHoldsBackByTheLargerBound) {
  auto op = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(-5 * kMinute, 20 * kMinute, false, false));
  EXPECT_EQ(op->OutputWatermark(100 * kMinute), 80 * kMinute);
  auto before = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(-30 * kMinute, -kMinute, false, false));
  EXPECT_EQ(before->OutputWatermark(100 * kMinute), 70 * kMinute);
  EXPECT_EQ(op->OutputWatermark(kFinalWatermarkMs), kFinalWatermarkMs);
  EXPECT_EQ(op->OutputWatermark(kMinWatermarkMs), kMinWatermarkMs);
}

TEST(IntervalJoinTest, KeysOfDifferentTypesAreRefusedWithWhatToDo) {
  auto right = arrow::schema({arrow::field("k", arrow::int32()), arrow::field("ts", arrow::int64()),
                              arrow::field("v", arrow::int64())});
  try {
    MakeIntervalJoin(EventSchema(), right, Spec(0, 0, false, false));
    FAIL() << "int64 and int32 keys were accepted";
  } catch (const UserTypeError& error) {
    EXPECT_NE(std::string(error.what()).find("int32 on the right"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("cast"), std::string::npos) << error.what();
  }
}

// Random A/B rows of 300 keys over 6 hours in arrival order with watermarks (as marks inside
// batches and as separate steps), against a nested-loop reference; both backends, P=1..3,
// and a hot budget of 4 KB, far below the live rows.
struct Input {
  int side;
  BatchPtr rows;
  std::vector<WatermarkMark> marks;   // inside the batch
  std::optional<int64_t> watermark;   // after the batch
};

TEST(IntervalJoinTest, RandomInputMatchesTheReferenceOverBackendsParallelismAndSpill) {
  std::mt19937_64 random(16);
  struct Event {
    int side;
    std::optional<int64_t> key;
    int64_t ts, v;
  };
  std::vector<Event> events;
  for (int i = 0; i < 6000; ++i) {
    const int64_t ts = static_cast<int64_t>(random() % (6 * 60 * kMinute));
    std::optional<int64_t> key = static_cast<int64_t>(random() % 300);
    if (random() % 50 == 0) key.reset();
    events.push_back({static_cast<int>(random() % 2), key, ts, i});
  }
  const int64_t delay = 2 * kMinute;
  // Arrival: time plus a random delay under `delay`, so no row is late.
  std::vector<std::pair<int64_t, int>> order;
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    order.emplace_back(events[i].ts + static_cast<int64_t>(random() % delay), i);
  }
  std::sort(order.begin(), order.end());
  const int64_t lower = -7 * kMinute, upper = 11 * kMinute;
  for (const std::string& how : {"inner", "left", "right", "outer"}) {
    const bool outer[2] = {how == "left" || how == "outer", how == "right" || how == "outer"};
    // The reference.
    std::vector<Row> expected;
    std::vector<bool> matched(events.size(), false);
    for (size_t a = 0; a < events.size(); ++a) {
      for (size_t b = 0; b < events.size(); ++b) {
        if (events[a].side != 0 || events[b].side != 1 || !events[a].key || events[a].key != events[b].key) continue;
        const int64_t diff = events[b].ts - events[a].ts;
        if (diff < lower || diff > upper) continue;
        matched[a] = matched[b] = true;
        expected.push_back({events[a].key, events[a].ts, events[a].v, events[b].ts, events[b].v});
      }
    }
    for (size_t i = 0; i < events.size(); ++i) {
      if (matched[i] || !outer[events[i].side]) continue;
      if (events[i].side == 0) {
        expected.push_back({events[i].key, events[i].ts, events[i].v, std::nullopt, std::nullopt});
      } else {
        expected.push_back({events[i].key, std::nullopt, std::nullopt, events[i].ts, events[i].v});
      }
    }
    std::sort(expected.begin(), expected.end());
    auto op = MakeIntervalJoin(EventSchema(), EventSchema(), Spec(lower, upper, outer[0], outer[1]));
    for (const std::string& backend : {"memory", "rocksdb"}) {
      for (int parallelism : {1, 3}) {
        const int64_t hot_bytes = backend == "rocksdb" ? 4096 : -1;
        std::vector<std::unique_ptr<Subtask>> subtasks;
        for (int p = 0; p < parallelism; ++p) {
          subtasks.push_back(std::make_unique<Subtask>(*op, backend, hot_bytes, p, parallelism));
        }
        // Batches of up to 50 rows of one side; the watermark (max time - delay) as marks
        // inside a batch or after it.
        int64_t max_seen = kMinWatermarkMs, watermark = kMinWatermarkMs;
        size_t next = 0;
        while (next < order.size()) {
          const int side = events[order[next].second].side;
          std::vector<std::tuple<std::optional<int64_t>, int64_t, int64_t>> rows;
          WatermarkMarks marks;
          const size_t batch = 1 + random() % 50;
          while (next < order.size() && rows.size() < batch && events[order[next].second].side == side) {
            const Event& e = events[order[next].second];
            if (!rows.empty() && max_seen - delay > watermark && random() % 4 == 0) {
              watermark = max_seen - delay;
              marks.push_back({static_cast<int64_t>(rows.size()), watermark});
            }
            rows.emplace_back(e.key, e.ts, e.v);
            max_seen = std::max(max_seen, e.ts);
            ++next;
          }
          const BatchPtr all = Events(rows);
          std::vector<uint16_t> key_groups;
          ComputeKeyGroups(*all, {0}, 128, &key_groups);
          for (int p = 0; p < parallelism; ++p) {
            // This subtask's rows, with the marks renumbered (as the keyed exchange does).
            arrow::Int64Builder take;
            std::vector<uint16_t> mine;
            WatermarkMarks my_marks;
            size_t mark = 0;
            for (int64_t i = 0; i < all->num_rows(); ++i) {
              if (SubtaskOfKeyGroup(key_groups[i], parallelism, 128) != p) continue;
              while (mark < marks.size() && marks[mark].row <= i) {
                if (!mine.empty()) my_marks.push_back({static_cast<int64_t>(mine.size()), marks[mark].watermark_ms});
                else subtasks[p]->state->OnWatermark(marks[mark].watermark_ms, subtasks[p]->out);
                ++mark;
              }
              CheckArrow(take.Append(i), "take");
              mine.push_back(key_groups[i]);
            }
            if (!mine.empty()) {
              const BatchPtr part =
                  CheckArrow(arrow::compute::Take(all, CheckArrow(take.Finish(), "take")), "take").record_batch();
              // Marks before the subtask's first row were sent as watermarks: none is at row 0.
              subtasks[p]->state->OnInputBatch(side, part, mine, my_marks.empty() ? nullptr : &my_marks,
                                               subtasks[p]->out);
            }
            // Marks after the subtask's last row: the watermark after the batch.
            for (; mark < marks.size(); ++mark) subtasks[p]->state->OnWatermark(marks[mark].watermark_ms, subtasks[p]->out);
          }
          if (max_seen - delay > watermark && random() % 3 == 0) {
            watermark = max_seen - delay;
            for (auto& subtask : subtasks) subtask->state->OnWatermark(watermark, subtask->out);
          }
        }
        std::vector<Row> got;
        int64_t writes = 0;
        for (auto& subtask : subtasks) {
          subtask->state->OnWatermark(kFinalWatermarkMs, subtask->out);
          subtask->state->OnEnd(subtask->out);
          got.insert(got.end(), subtask->out.rows.begin(), subtask->out.rows.end());
          EXPECT_EQ(subtask->metrics.rows_late.load(), 0);
          EXPECT_EQ(subtask->metrics.state_entries.load(), 0);
          writes += subtask->metrics.state_writes.load();
        }
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, expected) << how << " " << backend << " P=" << parallelism;
        if (backend == "rocksdb") EXPECT_GT(writes, 100) << "the 4 KB budget should spill";
      }
    }
  }
}

}  // namespace
}  // namespace millstream
