// The executor's contract with unbounded sources (connectors/source.h): a split that answers
// `waiting` rests on the run's timer and is asked again, rows fed meanwhile reach the sink while
// the run goes on, a split silent for the watermark's idle_timeout stops holding windows back,
// RequestStop drains the run (windows close, OnRunSucceeded on every split), and a collect sink
// below an unbounded source is refused.
#include "runtime/executor.h"

#include <arrow/builder.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "connectors/source.h"
#include "core/error.h"
#include "plan/plan_parser.h"

namespace millstream {
namespace {

SchemaPtr KeyTimeSchema() {
  return arrow::schema({arrow::field("k", arrow::utf8()), arrow::field("ts", arrow::int64())});
}

BatchPtr Rows(const std::vector<int64_t>& times_ms) {
  arrow::StringBuilder keys;
  arrow::Int64Builder times;
  for (int64_t time_ms : times_ms) {
    CheckArrow(keys.Append("a"), "key");
    CheckArrow(times.Append(time_ms), "ts");
  }
  return arrow::RecordBatch::Make(KeyTimeSchema(), static_cast<int64_t>(times_ms.size()),
                                  {CheckArrow(keys.Finish(), "keys"), CheckArrow(times.Finish(), "times")});
}

// Batches handed to the splits by the test while the run goes on, one queue per split.
struct Feed {
  std::mutex mutex;
  std::vector<std::deque<BatchPtr>> queues;
  std::atomic<int> polls{0};
  std::atomic<int> succeeded{0};  // OnRunSucceeded calls
  void Push(int split, BatchPtr batch) {
    std::lock_guard<std::mutex> lock(mutex);
    queues[split].push_back(std::move(batch));
  }
};

class FedSplit final : public SourceSplit {
 public:
  FedSplit(Feed* feed, int index) : feed_(feed), index_(index) {}
  SplitOutput Next() override {
    ++feed_->polls;
    SplitOutput output;
    output.position = ChunkPosition(index_, part_++);
    std::lock_guard<std::mutex> lock(feed_->mutex);
    auto& queue = feed_->queues[index_];
    if (queue.empty()) {
      output.waiting = true;
      return output;
    }
    output.rows = queue.front();
    queue.pop_front();
    return output;
  }
  void OnRunSucceeded() override { ++feed_->succeeded; }

 private:
  Feed* feed_;
  int index_;
  uint64_t part_ = 0;
};

class FedSource final : public Source {
 public:
  FedSource(Feed* feed, int splits) : feed_(feed), splits_(splits) { feed_->queues.resize(splits); }
  SchemaPtr schema() const override { return KeyTimeSchema(); }
  std::string name() const override { return "fed"; }
  bool bounded() const override { return false; }
  std::vector<std::unique_ptr<SourceSplit>> CreateSplits(int, OperatorMetrics*) const override {
    std::vector<std::unique_ptr<SourceSplit>> splits;
    for (int index = 0; index < splits_; ++index) splits.push_back(std::make_unique<FedSplit>(feed_, index));
    return splits;
  }

 private:
  Feed* feed_;
  int splits_;
};

// source -> with_watermark(ts, 1 s, idle_timeout_ms) -> tumbling 10 s count by k -> sink.
std::string WindowPlan(int parallelism, int64_t idle_timeout_ms, const std::string& sink) {
  return R"js({"version": 1, "parallelism": )js" + std::to_string(parallelism) +
         R"js(, "max_parallelism": 128,
    "state": {"kind": "memory", "directory": "", "cache_bytes": 1048576},
    "nodes": [
      {"id": 0, "op": "source", "inputs": [], "label": "fed", "handle": 0},
      {"id": 1, "op": "watermark", "inputs": [0], "label": "with_watermark(ts)",
       "time_column": "ts", "max_delay_ms": 1000, "idle_timeout_ms": )js" +
         std::to_string(idle_timeout_ms) + R"js(},
      {"id": 2, "op": "window", "inputs": [1], "label": "window", "keys": ["k"],
       "time_column": "ts", "window": {"kind": "tumbling", "size_ms": 10000, "slide_ms": 0,
       "offset_ms": 0, "gap_ms": 0, "time": "event"}, "allowed_lateness_ms": 0,
       "aggregates": [{"kind": "count", "column": "", "name": "n"}]},
      )js" + sink + R"js(
    ]})js";
}

const char* const kCallbackSink =
    R"js({"id": 3, "op": "sink", "inputs": [2], "label": "for_each_batch", "sink": "callback", "handle": 0})js";

// Window counts received by the callback sink, in order.
struct Counts {
  std::mutex mutex;
  std::vector<int64_t> values;
  SinkCallback Callback() {
    return [this](const BatchPtr& batch) {
      std::lock_guard<std::mutex> lock(mutex);
      const auto& n = static_cast<const arrow::Int64Array&>(*batch->GetColumnByName("n"));
      for (int64_t row = 0; row < n.length(); ++row) values.push_back(n.Value(row));
    };
  }
  std::vector<int64_t> Get() {
    std::lock_guard<std::mutex> lock(mutex);
    return values;
  }
  // Waits (bounded) until `count` values came; returns whether they did.
  bool WaitFor(size_t count, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Get().size() >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

struct RunningExecutor {
  RunningExecutor(const std::string& plan_json, PlanHandles handles)
      : executor(ParsePlan(plan_json), std::move(handles)),
        thread([this] {
          try {
            executor.Run(cancel);
          } catch (...) {
            error = std::current_exception();
          }
          done = true;
        }) {}
  ~RunningExecutor() {
    cancel = true;
    thread.join();
  }
  // RequestStop, then waits (bounded) for the run to end; returns whether it did.
  bool StopAndWait(std::chrono::milliseconds timeout) {
    executor.RequestStop();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return done;
  }
  Executor executor;
  std::atomic<bool> cancel{false};
  std::atomic<bool> done{false};
  std::exception_ptr error;
  std::thread thread;
};

PlanHandles HandlesOf(std::shared_ptr<Source> source, SinkCallback callback) {
  PlanHandles handles;
  handles.sources.push_back(std::move(source));
  handles.sink_callbacks.push_back(std::move(callback));
  return handles;
}

TEST(ExecutorUnbounded, WaitingSplitsRestThenRowsFlowAndStopDrainsAndCommits) {
  for (int parallelism : {1, 2}) {
    Feed feed;
    Counts counts;
    RunningExecutor run(WindowPlan(parallelism, -1, kCallbackSink),
                        HandlesOf(std::make_shared<FedSource>(&feed, 1), counts.Callback()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(run.done);
    // Resting between polls: ~20 in 200 ms at a 10 ms retry, not thousands of spins.
    EXPECT_LT(feed.polls.load(), 60) << "a waiting split spun instead of resting";
    EXPECT_GT(feed.polls.load(), 3) << "a waiting split was not asked again";
    feed.Push(0, Rows({0, 1000, 9000}));
    feed.Push(0, Rows({12000}));  // watermark 11 s: [0 s, 10 s) fires while the run goes on
    ASSERT_TRUE(counts.WaitFor(1, std::chrono::seconds(10)));
    EXPECT_EQ(counts.Get(), (std::vector<int64_t>{3}));
    EXPECT_EQ(feed.succeeded.load(), 0);
    ASSERT_TRUE(run.StopAndWait(std::chrono::seconds(10)));
    EXPECT_EQ(run.error, nullptr);
    EXPECT_EQ(counts.Get(), (std::vector<int64_t>{3, 1}));  // the open window closes at the stop
    EXPECT_EQ(feed.succeeded.load(), 1);
  }
}

TEST(ExecutorUnbounded, ASilentSplitHoldsWindowsBackUntilItsIdleTimeout) {
  for (int64_t idle_timeout_ms : {int64_t{-1}, int64_t{50}}) {
    for (int parallelism : {1, 2}) {
      Feed feed;
      Counts counts;
      RunningExecutor run(WindowPlan(parallelism, idle_timeout_ms, kCallbackSink),
                          HandlesOf(std::make_shared<FedSource>(&feed, 2), counts.Callback()));
      feed.Push(0, Rows({0, 5000, 12000}));  // split 1 stays silent
      if (idle_timeout_ms < 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        EXPECT_TRUE(counts.Get().empty()) << "a silent split without idle_timeout must hold back";
      } else {
        ASSERT_TRUE(counts.WaitFor(1, std::chrono::seconds(10)));
        EXPECT_EQ(counts.Get(), (std::vector<int64_t>{2}));
        // Split 1 speaks again: it holds the watermark back again (its window closes at the stop).
        feed.Push(1, Rows({25000}));
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
          {
            std::lock_guard<std::mutex> lock(feed.mutex);
            if (feed.queues[1].empty()) break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      }
      ASSERT_TRUE(run.StopAndWait(std::chrono::seconds(10)));
      EXPECT_EQ(run.error, nullptr);
      const std::vector<int64_t> expected =
          idle_timeout_ms < 0 ? std::vector<int64_t>{2, 1} : std::vector<int64_t>{2, 1, 1};
      std::vector<int64_t> got = counts.Get();
      EXPECT_EQ(got, expected) << "idle_timeout_ms " << idle_timeout_ms << " P=" << parallelism;
      EXPECT_EQ(feed.succeeded.load(), 2);
    }
  }
}

TEST(ExecutorUnbounded, CollectBelowAnUnboundedSourceIsRefused) {
  Feed feed;
  const std::string plan = WindowPlan(
      1, -1, R"js({"id": 3, "op": "sink", "inputs": [2], "label": "collect", "sink": "collect"})js");
  Executor executor(ParsePlan(plan), HandlesOf(std::make_shared<FedSource>(&feed, 1), nullptr));
  std::atomic<bool> cancel{false};
  try {
    executor.Run(cancel);
    FAIL() << "expected a UserError";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("fed is unbounded (stop=None)"), std::string::npos)
        << error.what();
  }
  EXPECT_FALSE(executor.bounded());
}

}  // namespace
}  // namespace millstream
