// The watermark chain's rule behind "lateness does not depend on batch size": on random
// out-of-order input, every batch size gives the same windows and the same late rows, whether the
// window state keeps a marked batch whole (OnMarkedBatch) or it is cut at its marks (the default
// Chain::PushMarked), and whether the marks are renumbered by a keyed exchange (SelectMarks).
#include "runtime/chain.h"

#include <random>

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/key_groups.h"
#include "core/time_arithmetic.h"
#include "core/watermark_marks.h"
#include "../ops/keyed_operator_harness.h"
#include "ops/window_aggregate.h"
#include "state/state_factory.h"

namespace millstream {
namespace {

using testing::CollectingEmitter;
using testing::Row;
using testing::RowsOf;

// Drives one subtask's window state the way the keyed actor does (P = 1: all key groups).
class StateChain final : public Chain {
 public:
  // `backend` "rocksdb" with a tiny hot budget: groups are written back and read again.
  StateChain(const KeyedOperator& op, bool keep_marked_batches, const std::string& backend)
      : op_(op), keep_marked_batches_(keep_marked_batches) {
    StateOptions options;
    options.kind = backend;
    environment_ = StateEnvironment::Create(options);
    SubtaskContext context;
    context.metrics = &metrics;
    context.state = environment_->MakeBackend("op", 0);
    if (backend == "rocksdb") context.hot_state_bytes = 2048;
    state_ = op.CreateState(std::move(context));
  }
  void Push(const BatchPtr& batch, uint64_t, uint64_t) override {
    ComputeKeyGroups(*batch, op_.key_columns(), 128, &key_groups_);
    state_->OnBatch(batch, key_groups_, out);
  }
  void PushMarked(const BatchPtr& batch, const WatermarkMarksPtr& marks, uint64_t origin,
                  uint64_t sequence) override {
    ++marked_batches;
    if (!keep_marked_batches_) {
      Chain::PushMarked(batch, marks, origin, sequence);
      return;
    }
    ComputeKeyGroups(*batch, op_.key_columns(), 128, &key_groups_);
    state_->OnMarkedBatch(batch, key_groups_, *marks, out);
  }
  void PushWatermark(int64_t watermark_ms) override { state_->OnWatermark(watermark_ms, out); }
  void PushEnd() override {
    state_->OnWatermark(kFinalWatermarkMs, out);
    state_->OnEnd(out);
  }

  CollectingEmitter out;
  OperatorMetrics metrics{"window"};
  int marked_batches = 0;

 private:
  const KeyedOperator& op_;
  bool keep_marked_batches_;
  std::shared_ptr<StateEnvironment> environment_;
  std::unique_ptr<KeyedOperatorState> state_;
  std::vector<uint16_t> key_groups_;
};

// k int64 (8 keys), ts int64 ms: mostly advancing, one row in 8 up to 3 s behind.
BatchPtr RandomInput(int64_t rows, std::mt19937_64& random) {
  arrow::Int64Builder keys, times;
  std::uniform_int_distribution<int64_t> key(0, 7), step(0, 40), behind(0, 3000), coin(0, 7);
  int64_t now_ms = 1'000'000;
  for (int64_t i = 0; i < rows; ++i) {
    now_ms += step(random);
    CheckArrow(keys.Append(key(random)), "k");
    CheckArrow(times.Append(coin(random) == 0 ? now_ms - behind(random) : now_ms), "ts");
  }
  auto schema = arrow::schema({arrow::field("k", arrow::int64()), arrow::field("ts", arrow::int64())});
  return arrow::RecordBatch::Make(schema, rows, {CheckArrow(keys.Finish(), "k"), CheckArrow(times.Finish(), "ts")});
}

// Result rows as text, in their order (Cell compares by Near, not ==).
std::vector<std::string> Texts(const std::vector<Row>& rows) {
  std::vector<std::string> texts;
  for (const Row& row : rows) texts.push_back(testing::RowString(row));
  return texts;
}

struct Outcome {
  std::vector<std::string> windows, late;
  int64_t rows_late = 0, contributions_dropped = 0, state_writes = 0;
};

// `watermark_column` >= 0: the watermarks are the input's explicit ones (ExplicitWatermarkChain)
// instead of derived with a max_delay of 500 ms.
Outcome RunChain(const KeyedOperator& op, const BatchPtr& input, int64_t batch_rows, bool keep_marked,
                 int* marked_batches = nullptr, const std::string& backend = "memory",
                 int watermark_column = -1) {
  auto state = std::make_unique<StateChain>(op, keep_marked, backend);
  StateChain* sink = state.get();
  ChainList children;
  children.push_back(std::move(state));
  OperatorMetrics watermark_metrics("with_watermark");
  WatermarkAssignment assignment;
  assignment.time_column = 1;
  assignment.max_delay_ms = 500;
  assignment.watermark_column = watermark_column;
  auto chain = MakeWatermarkChain(assignment, &watermark_metrics, std::move(children));
  for (int64_t offset = 0; offset < input->num_rows(); offset += batch_rows) {
    chain->Push(input->Slice(offset, batch_rows), 0, 0);
  }
  chain->PushEnd();
  if (marked_batches != nullptr) *marked_batches = sink->marked_batches;
  Outcome outcome;
  outcome.windows = Texts(RowsOf(*testing::Concat(sink->out.ports[0], op.output_schema(0))));
  outcome.late = Texts(RowsOf(*testing::Concat(sink->out.ports[1], op.output_schema(1))));
  outcome.rows_late = sink->metrics.rows_late;
  outcome.contributions_dropped = sink->metrics.window_contributions_dropped;
  outcome.state_writes = sink->metrics.state_writes;
  return outcome;
}

WindowSpec Window(WindowSpec::Kind kind, int64_t size_ms, int64_t slide_ms) {
  WindowSpec spec;
  spec.kind = kind;
  spec.size_ms = size_ms;
  spec.slide_ms = slide_ms;
  spec.gap_ms = size_ms;
  return spec;
}

TEST(WatermarkChain, LatenessDoesNotDependOnBatchSize) {
  const struct {
    const char* name;
    WindowSpec window;
    int64_t lateness_ms;
  } cases[] = {
      {"tumbling", Window(WindowSpec::Kind::kTumbling, 1000, 0), 0},
      {"tumbling, lateness", Window(WindowSpec::Kind::kTumbling, 1000, 0), 700},
      {"sliding", Window(WindowSpec::Kind::kSliding, 1500, 500), 0},
      {"sliding, lateness", Window(WindowSpec::Kind::kSliding, 1500, 500), 400},
      {"session", Window(WindowSpec::Kind::kSession, 300, 0), 0},
      {"session, lateness", Window(WindowSpec::Kind::kSession, 300, 0), 600},
  };
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::mt19937_64 random(seed);
    const BatchPtr input = RandomInput(600, random);
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(c.name) + ", seed " + std::to_string(seed));
      auto op = MakeWindowAggregate(input->schema(), {0}, 1, c.window, c.lateness_ms,
                                    {{"count", -1, "n"}, {"max", 1, "latest"}});
      // One row a batch: every watermark goes between rows, the meaning of lateness.
      const Outcome expected = RunChain(*op, input, 1, true);
      ASSERT_GT(expected.rows_late, 0) << "the input should have late rows";
      ASSERT_EQ(expected.windows.empty(), false);
      for (int64_t batch_rows = 2; batch_rows <= 64; ++batch_rows) {
        for (bool keep_marked : {true, false}) {
          const Outcome got = RunChain(*op, input, batch_rows, keep_marked);
          SCOPED_TRACE("batch of " + std::to_string(batch_rows) + (keep_marked ? " kept" : " cut"));
          // Windows in the same order (firing order does not depend on batching either).
          ASSERT_EQ(got.windows, expected.windows);
          ASSERT_EQ(got.late, expected.late);
          ASSERT_EQ(got.rows_late, expected.rows_late);
          ASSERT_EQ(got.contributions_dropped, expected.contributions_dropped);
        }
      }
      const Outcome whole = RunChain(*op, input, input->num_rows(), true);
      ASSERT_EQ(whole.windows, expected.windows);
      ASSERT_EQ(whole.late, expected.late);
      // RocksDB with state written back between batches (and between marks' firings).
      for (int64_t batch_rows : {int64_t{1}, int64_t{9}, int64_t{600}}) {
        const Outcome spilled = RunChain(*op, input, batch_rows, true, nullptr, "rocksdb");
        SCOPED_TRACE("rocksdb, batch of " + std::to_string(batch_rows));
        ASSERT_EQ(spilled.windows, expected.windows);
        ASSERT_EQ(spilled.late, expected.late);
        if (batch_rows == 9) ASSERT_GT(spilled.state_writes, 0) << "the state should be written back";
      }
    }
  }
}

TEST(WatermarkChain, InOrderInputCarriesNoMarks) {
  std::mt19937_64 random(4);
  BatchPtr input = RandomInput(500, random);
  auto times = std::static_pointer_cast<arrow::Int64Array>(input->column(1));
  std::vector<int64_t> sorted(times->raw_values(), times->raw_values() + times->length());
  std::sort(sorted.begin(), sorted.end());
  arrow::Int64Builder builder;
  CheckArrow(builder.AppendValues(sorted), "ts");
  input = arrow::RecordBatch::Make(input->schema(), input->num_rows(),
                                   {input->column(0), CheckArrow(builder.Finish(), "ts")});
  auto op = MakeWindowAggregate(input->schema(), {0}, 1, Window(WindowSpec::Kind::kTumbling, 1000, 0), 0,
                                {{"count", -1, "n"}});
  int marked_batches = -1;
  const Outcome outcome = RunChain(*op, input, 100, true, &marked_batches);
  EXPECT_EQ(marked_batches, 0);
  EXPECT_EQ(outcome.rows_late, 0);
}

// The message of the UserError that pushing `batch` into a watermark chain raises ("" if none).
std::string PushError(const WatermarkAssignment& assignment, const BatchPtr& batch) {
  OperatorMetrics metrics("with_watermark");
  auto chain = MakeWatermarkChain(assignment, &metrics, {});
  try {
    chain->Push(batch, 0, 0);
  } catch (const UserError& error) {
    return error.what();
  }
  return "";
}

// A batch of two int64 columns, `first` and `second`.
BatchPtr TwoColumns(const char* first, const std::shared_ptr<arrow::Array>& first_values,
                    const char* second, const std::shared_ptr<arrow::Array>& second_values) {
  auto schema = arrow::schema({arrow::field(first, arrow::int64()), arrow::field(second, arrow::int64())});
  return arrow::RecordBatch::Make(schema, first_values->length(), {first_values, second_values});
}

TEST(WatermarkChain, TimesOutsideTheRangeAreUserErrors) {
  arrow::Int64Builder keys, times;
  CheckArrow(keys.AppendValues({1, 1}), "k");
  CheckArrow(times.AppendValues({1000, INT64_MAX}), "ts");
  WatermarkAssignment assignment;
  assignment.time_column = 1;
  const std::string message = PushError(
      assignment, TwoColumns("k", CheckArrow(keys.Finish(), "k"), "ts", CheckArrow(times.Finish(), "ts")));
  ASSERT_FALSE(message.empty()) << "expected a UserError";
  EXPECT_NE(message.find("'ts'"), std::string::npos) << message;
  EXPECT_NE(message.find("row 1"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(INT64_MAX)), std::string::npos) << message;
}

// The input with a third column, the watermark the derived assigner (max_delay 500 ms) has in
// force before each row, written where it moves: given explicitly, it must give the same
// windows and late rows at every batch size.
BatchPtr WithDerivedWatermarks(const BatchPtr& input) {
  const auto& times = static_cast<const arrow::Int64Array&>(*input->column(1));
  arrow::Int64Builder watermarks;
  int64_t max_ms = kMinWatermarkMs, emitted_ms = kMinWatermarkMs;
  for (int64_t row = 0; row < input->num_rows(); ++row) {
    const int64_t watermark_ms = max_ms == kMinWatermarkMs ? kMinWatermarkMs : max_ms - 500;
    if (watermark_ms > emitted_ms) {
      CheckArrow(watermarks.Append(watermark_ms), "wm");
      emitted_ms = watermark_ms;
    } else {
      CheckArrow(watermarks.AppendNull(), "wm");
    }
    max_ms = std::max(max_ms, times.Value(row));
  }
  return CheckArrow(input->AddColumn(2, arrow::field("wm", arrow::int64()),
                                     CheckArrow(watermarks.Finish(), "wm")), "wm");
}

TEST(ExplicitWatermarkChain, GivenWatermarksActAsDerivedOnes) {
  std::mt19937_64 random(11);
  const BatchPtr input = RandomInput(600, random);
  const BatchPtr explicit_input = WithDerivedWatermarks(input);
  for (const WindowSpec& window : {Window(WindowSpec::Kind::kTumbling, 1000, 0),
                                   Window(WindowSpec::Kind::kSliding, 1500, 500),
                                   Window(WindowSpec::Kind::kSession, 300, 0)}) {
    auto op = MakeWindowAggregate(input->schema(), {0}, 1, window, 0,
                                  {{"count", -1, "n"}, {"max", 1, "latest"}});
    const Outcome expected = RunChain(*op, input, 1, true);
    ASSERT_GT(expected.rows_late, 0);
    for (int64_t batch_rows : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{600}}) {
      for (bool keep_marked : {true, false}) {
        SCOPED_TRACE("batch of " + std::to_string(batch_rows) + (keep_marked ? " kept" : " cut"));
        const Outcome got = RunChain(*op, explicit_input, batch_rows, keep_marked, nullptr,
                                     "memory", /*watermark_column=*/2);
        ASSERT_EQ(got.windows, expected.windows);
        ASSERT_EQ(got.late, expected.late);
        ASSERT_EQ(got.rows_late, expected.rows_late);
      }
    }
  }
}

TEST(ExplicitWatermarkChain, AWatermarkThatGoesBackIsAUserError) {
  arrow::Int64Builder times, watermarks;
  CheckArrow(times.AppendValues({1000, 2000, 3000}), "ts");
  CheckArrow(watermarks.AppendValues({500, 0, 400}, {true, false, true}), "wm");
  WatermarkAssignment assignment;
  assignment.time_column = 0;
  assignment.watermark_column = 1;
  const std::string message = PushError(assignment, TwoColumns("ts", CheckArrow(times.Finish(), "ts"), "wm",
                                                               CheckArrow(watermarks.Finish(), "wm")));
  EXPECT_NE(message.find("'wm' goes back from 500 to 400 at row 2"), std::string::npos) << message;
}

TEST(SelectMarks, RenumbersMarksInTheSelection) {
  const WatermarkMarks marks = {{2, 10}, {3, 20}, {5, 30}, {9, 40}};
  const int32_t selected[] = {0, 4, 5, 7};
  const WatermarkMarks got = SelectMarks(marks, selected, 4);
  // rows 2 and 3 both go before selected row 1 (input row 4): the later watermark stands;
  // the mark before row 9 falls after the last selected row and is dropped.
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].row, 1);
  EXPECT_EQ(got[0].watermark_ms, 20);
  EXPECT_EQ(got[1].row, 2);
  EXPECT_EQ(got[1].watermark_ms, 30);
}

TEST(SelectMarks, MatchesAWatermarkPerRowOnRandomInput) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 200; ++round) {
    const int64_t rows = 1 + random() % 50;
    WatermarkMarks marks;
    int64_t watermark = 0;
    for (int64_t row = 0; row < rows; ++row) {
      if (random() % 3 == 0) marks.push_back({row, watermark += 1 + random() % 5});
    }
    std::vector<int32_t> selected;
    for (int32_t row = 0; row < rows; ++row) {
      if (random() % 2 == 0) selected.push_back(row);
    }
    // The watermark before each row, by the marks (0 before the first).
    auto before = [](const WatermarkMarks& m, int64_t row) {
      int64_t w = 0;
      for (const auto& mark : m) {
        if (mark.row <= row) w = mark.watermark_ms;
      }
      return w;
    };
    const WatermarkMarks got = SelectMarks(marks, selected.data(), static_cast<int64_t>(selected.size()));
    for (size_t i = 0; i < selected.size(); ++i) {
      ASSERT_EQ(before(got, static_cast<int64_t>(i)), before(marks, selected[i])) << "round " << round;
    }
    for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].row, got[i].row);
  }
}

}  // namespace
}  // namespace millstream
