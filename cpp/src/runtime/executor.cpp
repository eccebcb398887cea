#include "runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "connectors/sink.h"
#include "core/error.h"
#include "core/key_groups.h"
#include "core/time_arithmetic.h"
#include "ops/keyed_snapshot.h"
#include "plan/physical.h"
#include "runtime/chain.h"
#include "runtime/checkpoint_coordinator.h"
#include "runtime/counting_chain.h"
#include "runtime/watermark_tracker.h"
#include "state/state_factory.h"

namespace millstream {

namespace {

class RunScheduler;
class SplitAlignment;
class WatermarkAlignment;

// How long a waiting split (SplitOutput::waiting: an unbounded source with no data now) rests
// before it is asked again. Short against the ~1 s a record may take from Kafka to a sink, long
// enough that idle splits cost no measurable CPU (a few hundred polls a second at most).
constexpr auto kWaitingSplitRetry = std::chrono::milliseconds(10);

// Runs tasks of the run's task group after a delay, from a thread of its own: a waiting split
// rests here instead of blocking a worker (which the other actors need) or spinning. A task is
// made with task_group::defer when it is scheduled, so the group's wait() counts it until it
// has run: a run does not end while a split rests.
class RunTimer {
 public:
  RunTimer(tbb::task_arena* arena, tbb::task_group* group) : arena_(arena), group_(group) {}
  ~RunTimer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void After(std::chrono::steady_clock::duration delay, std::function<void()> task) {
    tbb::task_handle handle = group_->defer(std::move(task));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back({std::chrono::steady_clock::now() + delay, std::move(handle)});
      // Started by the first resting split: runs of bounded sources never pay for the thread.
      if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    }
    wake_.notify_all();
  }
  // Runs every resting task now (the run is stopping or failed: nothing should wait).
  void FireAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    fire_all_ = true;
    wake_.notify_all();
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point due;
    tbb::task_handle task;
  };
  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      auto earliest = std::chrono::steady_clock::time_point::max();
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (fire_all_ || closing_ || it->due <= now) {
          arena_->enqueue(std::move(it->task));
          it = pending_.erase(it);
        } else {
          earliest = std::min(earliest, it->due);
          ++it;
        }
      }
      if (closing_) return;
      if (earliest == std::chrono::steady_clock::time_point::max()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, earliest);
      }
    }
  }

  tbb::task_arena* arena_;
  tbb::task_group* group_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Entry> pending_;
  bool fire_all_ = false;
  bool closing_ = false;
  std::thread thread_;
};

// Drives one source split: reads a chunk, runs the fused chain on it, and yields its thread
// after each chunk; pauses while too many messages are in flight, or while it is ahead of the
// other splits of its source.
class SourceDriver {
 public:
  SourceDriver(std::unique_ptr<SourceSplit> split, uint64_t origin, RunScheduler* scheduler,
               SplitAlignment* alignment, WatermarkAlignment* watermark_alignment, int index)
      : split_(std::move(split)), origin_(origin), scheduler_(scheduler), alignment_(alignment),
        watermark_alignment_(watermark_alignment), index_(index) {}
  void Step();
  void Pause() { split_->Pause(); }
  void SetWatermarkAlignment(WatermarkAlignment* alignment) { watermark_alignment_ = alignment; }
  void Resume() { split_->Resume(); }
  // Published by the watermark assigner of this split's chains (when its source is aligned by
  // watermark), read by WatermarkAlignment.
  SplitWatermark watermark;
  // The run succeeded: the split may commit what it read (Kafka offsets).
  void OnRunSucceeded() { split_->OnRunSucceeded(); }
  int index() const { return index_; }
  ChainList rows;          // port 0
  ChainList dead_letters;  // port 1

  // Checkpoints: the split's part in the coordinator.
  void AttachCheckpoints(CheckpointCoordinator* coordinator, int part) {
    coordinator_ = coordinator;
    part_ = part;
  }
  // A restored run: the chains' state the split had (one saved by ChainState()).
  void RestoreChainState(const std::vector<int64_t>& state) {
    size_t at = 0;
    RestoreStateAll(rows, state, &at);
    RestoreStateAll(dead_letters, state, &at);
    MS_CHECK(at == state.size(), "a chain state longer than the split's chain tree");
  }
  std::vector<int64_t> ChainState() const {
    std::vector<int64_t> state;
    SaveStateAll(rows, &state);
    SaveStateAll(dead_letters, &state);
    return state;
  }

 private:
  // At a step boundary: when a checkpoint is under way that this split has not yet joined, its
  // position and chains' state go to the coordinator and the barrier down the chains.
  void InjectPendingBarrier() {
    if (coordinator_ == nullptr) return;
    const int64_t checkpoint_id = coordinator_->PendingFor(part_);
    if (checkpoint_id == 0) return;
    coordinator_->AckSource(part_, checkpoint_id, split_->Position(), ChainState());
    PushBarrierAll(rows, checkpoint_id);
    PushBarrierAll(dead_letters, checkpoint_id);
    injected_ = checkpoint_id;
  }
  // The input ended: every later checkpoint takes this position; a checkpoint under way that
  // the split had not joined gets its barrier before the end.
  void EndInput() {
    if (coordinator_ != nullptr) {
      const int64_t owed = coordinator_->SourceEnded(part_, split_->Position(), ChainState());
      if (owed != 0) {
        PushBarrierAll(rows, owed);
        PushBarrierAll(dead_letters, owed);
      }
    }
    PushEndAll(rows);
    PushEndAll(dead_letters);
  }
  // After parking: a checkpoint that started meanwhile may have missed this split (the start
  // wakes the splits parked then); unpark it to join, as the alignment would hold it for long.
  bool RejoinIfCheckpointPending();

  CheckpointCoordinator* coordinator_ = nullptr;
  int part_ = -1;
  int64_t injected_ = 0;  // the last checkpoint whose barrier the split pushed

  std::unique_ptr<SourceSplit> split_;
  uint64_t origin_;  // the source's: sinks order its splits' chunks by their positions
  RunScheduler* scheduler_;
  SplitAlignment* alignment_;  // null when no event time flows from the source
  WatermarkAlignment* watermark_alignment_;  // null unless an unbounded source feeds a watermark
  int index_;  // among its source's splits
  // Since when the split has been waiting without rows (unset while rows come).
  std::optional<std::chrono::steady_clock::time_point> silent_since_;
};

// Keeps the splits of one source within kMaxLead rounds of each other. The splits take turns at
// blocks of the same input (source.h: split k of n reads blocks k, k + n, ...; a round is n
// consecutive blocks), so on input ordered by event time the round is event time: a split that
// raced ahead would not move the operators' watermark (the minimum over the splits) and only
// fill the windows that stay open meanwhile. Progress is counted in blocks, not chunks: a block
// may come in several chunks (a table's block over two of its record batches), and counting
// chunks let splits drift apart by many blocks over a run (at P=2, the watermark of a session
// window lagged the rows by up to 13 s instead of ~5, with half as many sessions again open).
// Like Flink's watermark alignment, but by progress through the input. Only sources followed
// by a watermark get one (RunGraph::FeedsWatermark): elsewhere the lockstep only makes splits
// wait.
class SplitAlignment {
 public:
  static constexpr int64_t kMaxLead = 1;
  explicit SplitAlignment(int splits) : splits_(splits), rounds_(splits, -1), ended_(splits, false) {}

  // True when the split is parked (it is spawned again when the slowest split catches up).
  bool ParkIfAhead(SourceDriver* driver) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (rounds_[driver->index()] <= LimitLocked()) return false;
    parked_.push_back(driver);
    return true;
  }
  // A split read a chunk at `position` (ChunkPosition), or ended: returns the parked splits
  // that may go on. (A chunk without rows may carry no position: the round never goes back.)
  std::vector<SourceDriver*> Advance(int index, uint64_t position, bool ended) {
    std::lock_guard<std::mutex> lock(mutex_);
    rounds_[index] = std::max(rounds_[index], static_cast<int64_t>(BlockOfPosition(position)) / splits_);
    ended_[index] = ended;
    std::vector<SourceDriver*> woken;
    const int64_t limit = LimitLocked();
    std::erase_if(parked_, [&](SourceDriver* driver) {
      if (rounds_[driver->index()] > limit) return false;
      woken.push_back(driver);
      return true;
    });
    return woken;
  }

 private:
  // The last round a split may have read from and still read on: kMaxLead more than the
  // slowest split that has not ended; no limit once every split has ended.
  int64_t LimitLocked() const {
    int64_t slowest = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < rounds_.size(); ++i) {
      if (!ended_[i]) slowest = std::min(slowest, rounds_[i]);
    }
    return slowest == std::numeric_limits<int64_t>::max() ? slowest : slowest + kMaxLead;
  }

  const int64_t splits_;
  std::mutex mutex_;
  std::vector<int64_t> rounds_;  // per split: the furthest round it read from (-1: none yet)
  std::vector<bool> ended_;
  std::vector<SourceDriver*> parked_;
};

// Keeps the splits of an unbounded source (Kafka partitions, which arrive at their own rates
// and are not blocks of one input) within kMaxLeadMs of event time of each other: a split whose
// watermark is further ahead of the slowest split's is parked and paused (SourceSplit::Pause: a
// Kafka partition stops fetching, so its records wait in the broker rather than in memory or in
// window state that cannot fire), and resumed when the slowest catches up. The slowest is
// taken over the splits that have a watermark and are not idle (with_watermark's
// idle_timeout): a partition that never spoke, or fell silent, holds no other back. A waiting
// split steps every kWaitingSplitRetry, so idleness and catching up are seen within that.
class WatermarkAlignment {
 public:
  // Long against any out-of-orderness a watermark allows (so that pausing is rare and never
  // changes which rows are late: lateness is per window, against the minimum, which an aligned
  // split does not move), short enough to bound what a fast partition piles into open windows.
  static constexpr int64_t kMaxLeadMs = 60'000;

  explicit WatermarkAlignment(std::vector<SourceDriver*> drivers) : drivers_(std::move(drivers)) {}

  // True when the driver is parked (and its split paused) until the slowest catches up.
  bool ParkIfAhead(SourceDriver* driver) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (released_ || driver->watermark.watermark_ms.load() <= LimitLocked()) return false;
    parked_.push_back(driver);
    driver->Pause();
    return true;
  }
  // A split stepped (its watermark or idleness may have changed): the parked drivers that may
  // go on, resumed.
  std::vector<SourceDriver*> Advance() {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t limit = LimitLocked();
    std::vector<SourceDriver*> woken;
    std::erase_if(parked_, [&](SourceDriver* driver) {
      if (!released_ && driver->watermark.watermark_ms.load() > limit) return false;
      woken.push_back(driver);
      return true;
    });
    for (SourceDriver* driver : woken) driver->Resume();
    return woken;
  }
  // A checkpoint started: every parked driver steps once (resumed), to push its barrier; those
  // still ahead park again. So a partition that waits for data cannot stall a checkpoint.
  std::vector<SourceDriver*> TakeParked() {
    std::vector<SourceDriver*> woken;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      woken.swap(parked_);
    }
    for (SourceDriver* driver : woken) driver->Resume();
    return woken;
  }
  // True when `driver` was parked (it is resumed then, and the caller steps it).
  bool Unpark(SourceDriver* driver) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (std::erase(parked_, driver) == 0) return false;
    }
    driver->Resume();
    return true;
  }
  // The run is stopping: nothing is held back any more.
  std::vector<SourceDriver*> Release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = true;
    }
    return Advance();
  }

 private:
  int64_t LimitLocked() const {
    int64_t slowest = std::numeric_limits<int64_t>::max();
    for (SourceDriver* driver : drivers_) {
      const int64_t watermark_ms = driver->watermark.watermark_ms.load();
      if (watermark_ms == kMinWatermarkMs || driver->watermark.idle.load()) continue;
      slowest = std::min(slowest, watermark_ms);
    }
    return slowest == std::numeric_limits<int64_t>::max() ? slowest : SaturatingAdd(slowest, kMaxLeadMs);
  }

  const std::vector<SourceDriver*> drivers_;
  std::mutex mutex_;
  std::vector<SourceDriver*> parked_;
  bool released_ = false;
};

class RunScheduler final : public Scheduler {
 public:
  RunScheduler(tbb::task_group* group, RunTimer* timer, const std::atomic<bool>* cancel,
               const std::atomic<bool>* stop, const std::atomic<int64_t>* stop_after_checkpoint,
               int64_t in_flight_limit)
      : group_(group), timer_(timer), cancel_(cancel), stop_(stop),
        stop_after_checkpoint_(stop_after_checkpoint), in_flight_limit_(in_flight_limit) {}
  // Executor::RequestStop with a checkpoint: splits stop once they pushed this one's barrier.
  int64_t stop_after_checkpoint() const { return stop_after_checkpoint_->load(); }
  void Spawn(std::function<void()> task) override { group_->run(std::move(task)); }
  void SpawnAfter(std::chrono::steady_clock::duration delay, std::function<void()> task) {
    timer_->After(delay, std::move(task));
  }
  bool cancelled() const override { return cancel_->load(std::memory_order_relaxed); }
  // Executor::RequestStop: sources end where they are and the run drains.
  bool stopping() const { return stop_->load(std::memory_order_relaxed); }
  void OnQueued() override { in_flight_.fetch_add(1); }
  void OnHandled() override {
    if (in_flight_.fetch_sub(1) - 1 < in_flight_limit_ && parked_count_.load() > 0) WakeSources();
  }
  // True when the source was parked (it is spawned again once messages drain).
  bool ParkIfBusy(SourceDriver* source) {
    if (in_flight_.load() < in_flight_limit_) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    parked_.push_back(source);
    parked_count_.fetch_add(1);
    // Re-check after announcing the park: either this sees the drain or the drain sees us.
    if (in_flight_.load() < in_flight_limit_) {
      parked_.pop_back();
      parked_count_.fetch_sub(1);
      return false;
    }
    return true;
  }

 private:
  void WakeSources() {
    std::vector<SourceDriver*> woken;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      woken.swap(parked_);
      parked_count_.fetch_sub(static_cast<int64_t>(woken.size()));
    }
    for (SourceDriver* source : woken) Spawn([source] { source->Step(); });
  }

  tbb::task_group* group_;
  RunTimer* timer_;
  const std::atomic<bool>* cancel_;
  const std::atomic<bool>* stop_;
  const std::atomic<int64_t>* stop_after_checkpoint_;
  const int64_t in_flight_limit_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> parked_count_{0};
  std::mutex mutex_;
  std::vector<SourceDriver*> parked_;
};

bool SourceDriver::RejoinIfCheckpointPending() {
  if (coordinator_ == nullptr || watermark_alignment_ == nullptr) return false;
  if (coordinator_->PendingFor(part_) == 0 || !watermark_alignment_->Unpark(this)) return false;
  scheduler_->Spawn([this] { Step(); });
  return true;
}

void SourceDriver::Step() {
  if (scheduler_->cancelled()) throw Cancelled();
  InjectPendingBarrier();
  const int64_t stop_after = scheduler_->stop_after_checkpoint();
  if (stop_after > 0) {
    if (injected_ >= stop_after) {
      // Stopped with a checkpoint: the split rests where the barrier is, its input not ended
      // (a restored run continues from here). The other splits must reach theirs.
      if (watermark_alignment_ != nullptr) {
        for (SourceDriver* other : watermark_alignment_->Release()) {
          scheduler_->Spawn([other] { other->Step(); });
        }
      }
      return;
    }
  } else if (scheduler_->stopping()) {
    // The split ends where it is: what it returned drains to the sinks, and windows close with
    // the final watermark as at the end of a bounded input (nothing taken is left unanswered).
    if (alignment_ != nullptr) {
      for (SourceDriver* other : alignment_->Advance(index_, 0, /*ended=*/true)) {
        scheduler_->Spawn([other] { other->Step(); });
      }
    }
    if (watermark_alignment_ != nullptr) {
      for (SourceDriver* other : watermark_alignment_->Release()) {
        scheduler_->Spawn([other] { other->Step(); });
      }
    }
    EndInput();
    return;
  }
  if (scheduler_->ParkIfBusy(this)) return;
  if (alignment_ != nullptr && alignment_->ParkIfAhead(this)) return;
  if (watermark_alignment_ != nullptr && watermark_alignment_->ParkIfAhead(this)) {
    RejoinIfCheckpointPending();
    return;
  }
  SplitOutput output = split_->Next();
  if (output.dead_letters && output.dead_letters->num_rows() > 0) {
    PushAll(dead_letters, output.dead_letters, origin_, output.position);
  }
  if (output.rows && output.rows->num_rows() > 0) PushAll(rows, output.rows, origin_, output.position);
  if (alignment_ != nullptr) {
    for (SourceDriver* other : alignment_->Advance(index_, output.position, output.end)) {
      scheduler_->Spawn([other] { other->Step(); });
    }
  }
  if (watermark_alignment_ != nullptr) {
    for (SourceDriver* other : watermark_alignment_->Advance()) {
      scheduler_->Spawn([other] { other->Step(); });
    }
  }
  if (output.end) {
    EndInput();
    return;  // the split stays until the run ends: OnRunSucceeded
  }
  const bool got_rows = output.rows && output.rows->num_rows() > 0;
  if (output.waiting && !got_rows) {
    const auto now = std::chrono::steady_clock::now();
    if (!silent_since_) silent_since_ = now;
    PushSilenceAll(rows, std::chrono::duration_cast<std::chrono::milliseconds>(now - *silent_since_).count());
    scheduler_->SpawnAfter(kWaitingSplitRetry, [this] { Step(); });
    return;
  }
  if (got_rows) silent_since_.reset();
  scheduler_->Spawn([this] { Step(); });
}

// Routes a keyed operator's output to the chains of its ports.
class PortEmitter final : public Emitter {
 public:
  PortEmitter(std::vector<ChainList>* ports, uint64_t origin, OperatorMetrics* metrics,
              const KeyedOperator* op)
      : ports_(ports), origin_(origin), metrics_(metrics), op_(op) {}
  void Emit(int port, BatchPtr batch) override {
    if (!batch || batch->num_rows() == 0) return;
    if (port == 0) metrics_->rows_out += batch->num_rows();
    PushAll((*ports_)[port], batch, origin_, sequence_++);
  }
  uint64_t next_sequence() const { return sequence_; }
  void set_next_sequence(uint64_t sequence) { sequence_ = sequence; }
  // `watermark_ms` is the operator's (its inputs' minimum); its output's may be older.
  void Watermark(int64_t watermark_ms) override {
    const int64_t output_ms = op_->OutputWatermark(watermark_ms);
    for (auto& chains : *ports_) PushWatermarkAll(chains, output_ms);
  }

 private:
  std::vector<ChainList>* ports_;
  uint64_t origin_;
  uint64_t sequence_ = 0;
  OperatorMetrics* metrics_;
  const KeyedOperator* op_;
};

// An actor with input channels: counts their ends and aligns checkpoint barriers over them.
// When a barrier arrives on an input, that input's later messages are held (in order) until
// every input delivered the barrier or ended; then the actor writes its part (TakeCheckpoint)
// and the held messages are handled. An input that ended counts as aligned: a bounded run's
// checkpoints go on while some of its splits are done. A checkpoint's notice (sent directly at
// its start) makes an actor whose inputs all ended take part too, with nothing to align.
class InputActor : public Actor {
 public:
  using Actor::Actor;
  int AddInput() { return num_inputs_++; }
  int num_inputs() const { return num_inputs_; }
  void AttachCheckpoints(CheckpointCoordinator* coordinator, int part) {
    coordinator_ = coordinator;
    part_ = part;
  }
  // Once the inputs are connected.
  virtual void Start() {
    input_ended_.assign(num_inputs_, false);
    barrier_seen_.assign(num_inputs_, false);
  }

 protected:
  void Handle(Message& message) final {
    if (message.kind == Message::Kind::kCommit) {
      Commit(message.checkpoint_id);
      return;
    }
    if (message.kind == Message::Kind::kBarrier) {
      OnBarrier(message);
      return;
    }
    if (aligning_ != 0 && barrier_seen_[message.input]) {
      held_.push_back(std::move(message));
      return;
    }
    if (message.kind == Message::Kind::kEnd) {
      input_ended_[message.input] = true;
      ++ended_;
    }
    Process(message);
    if (message.kind == Message::Kind::kEnd) TryCompleteCheckpoint();
  }
  // A batch, watermark, idleness or end (ended_ counts the ends, this one included).
  virtual void Process(Message& message) = 0;
  // Every input delivered checkpoint `checkpoint_id`'s barrier or ended: write this actor's
  // part, pass the barrier on, ack. `finished`: every input had ended, the actor is done.
  virtual void TakeCheckpoint(int64_t checkpoint_id, bool finished) = 0;
  // Checkpoint `checkpoint_id` is complete.
  virtual void Commit(int64_t /*checkpoint_id*/) {}
  bool finished() const { return ended_ == num_inputs_; }

  int num_inputs_ = 0;
  int ended_ = 0;
  CheckpointCoordinator* coordinator_ = nullptr;
  int part_ = -1;

 private:
  void OnBarrier(const Message& message) {
    const int64_t checkpoint_id = message.checkpoint_id;
    if (checkpoint_id <= last_checkpoint_) return;  // a notice of one already taken
    if (aligning_ == 0) aligning_ = checkpoint_id;
    MS_CHECK(checkpoint_id == aligning_, "checkpoint " + std::to_string(checkpoint_id) +
                                             " reached an actor aligning " + std::to_string(aligning_));
    if (message.input != Message::kDirectInput) barrier_seen_[message.input] = true;
    TryCompleteCheckpoint();
  }
  void TryCompleteCheckpoint() {
    if (aligning_ == 0) return;
    for (int input = 0; input < num_inputs_; ++input) {
      if (!barrier_seen_[input] && !input_ended_[input]) return;
    }
    const int64_t checkpoint_id = aligning_;
    TakeCheckpoint(checkpoint_id, finished());
    last_checkpoint_ = checkpoint_id;
    aligning_ = 0;
    barrier_seen_.assign(num_inputs_, false);
    std::deque<Message> held;
    held.swap(held_);
    for (Message& message : held) Handle(message);
  }

  int64_t aligning_ = 0;         // the checkpoint being aligned, 0: none
  int64_t last_checkpoint_ = 0;  // the last one this actor took part in
  std::vector<bool> input_ended_;
  std::vector<bool> barrier_seen_;
  // Messages of inputs whose barrier came, while aligning. They count as handled for the
  // in-flight limit: sources must go on to bring the barriers of the other inputs.
  std::deque<Message> held_;
};

// What a keyed subtask of a restored run starts from (besides SubtaskContext::restore_from).
struct KeyedRestore {
  bool ended = false;            // the operator had finished before the checkpoint
  uint64_t next_sequence = 0;
  std::vector<int64_t> tracker_state;  // same inputs: the tracker as it was
  int64_t watermark_ms = kMinWatermarkMs;  // other inputs (rescaled): where each starts
};

class KeyedActor final : public InputActor {
 public:
  KeyedActor(Scheduler* scheduler, const KeyedOperator& op, SubtaskContext context, uint64_t origin,
             KeyedRestore restore)
      : InputActor(scheduler),
        ports(op.num_ports()),
        metrics_(context.metrics),
        state_(op.CreateState(std::move(context))),
        emitter_(&ports, origin, metrics_, &op),
        restore_(std::move(restore)) {
    emitter_.set_next_sequence(restore_.next_sequence);
  }
  // An input channel that carries the operator's input `side` (a join's left 0 or right 1).
  int AddInputOf(int side) {
    sides_.push_back(side);
    return AddInput();
  }
  void Start() override {
    InputActor::Start();
    tracker_ = std::make_unique<WatermarkTracker>(num_inputs_);
    const size_t saved_inputs = restore_.tracker_state.empty() ? 0 : (restore_.tracker_state.size() - 1) / 2;
    if (saved_inputs == static_cast<size_t>(num_inputs_)) {
      tracker_->RestoreState(restore_.tracker_state);
    } else if (restore_.watermark_ms != kMinWatermarkMs) {
      tracker_->RestoreAt(restore_.watermark_ms);
    }
  }
  std::vector<ChainList> ports;

 protected:
  void Process(Message& message) override {
    switch (message.kind) {
      case Message::Kind::kBatch:
        metrics_->rows_in += message.batch->num_rows();
        tracker_->MarkActive(message.input);  // an idle input holds the watermark back again
        OnBatch(message);
        metrics_->NotePeakState();
        break;
      case Message::Kind::kWatermark:
        if (tracker_->Update(message.input, message.watermark_ms)) Advance();
        break;
      case Message::Kind::kIdle:
        if (tracker_->MarkIdle(message.input)) Advance();
        break;
      case Message::Kind::kEnd:
        if (restore_.ended) {
          // Restored after the operator finished: its final output was emitted and taken
          // before the checkpoint; only the end goes on.
          if (finished()) {
            for (auto& chains : ports) PushEndAll(chains);
          }
          break;
        }
        if (tracker_->End(message.input)) Advance();
        if (finished()) {
          state_->OnEnd(emitter_);
          for (auto& chains : ports) PushEndAll(chains);
        }
        break;
      case Message::Kind::kBarrier:
      case Message::Kind::kCommit:
        MS_CHECK(false, "InputActor handles barriers and commits");
    }
  }

  void TakeCheckpoint(int64_t checkpoint_id, bool finished) override {
    if (finished || restore_.ended) {
      // Nothing left to restore: a restored run must only not emit the final output again.
      if (!finished) {
        for (auto& chains : ports) PushBarrierAll(chains, checkpoint_id);
      }
      coordinator_->AckKeyed(part_, checkpoint_id, /*ended=*/true, emitter_.next_sequence(), {});
      return;
    }
    state_->Snapshot(coordinator_->TargetFor(part_, checkpoint_id));
    for (auto& chains : ports) PushBarrierAll(chains, checkpoint_id);
    coordinator_->AckKeyed(part_, checkpoint_id, /*ended=*/false, emitter_.next_sequence(),
                           tracker_->SaveState());
  }

 private:
  // The marks are this input's watermarks between rows; the operator's watermark is the minimum
  // over its inputs, so each mark becomes one where that minimum advances (or none). The
  // watermark reached by the end of the batch goes on after it.
  void OnBatch(const Message& message) {
    combined_marks_.clear();
    if (message.marks) {
      for (const WatermarkMark& mark : *message.marks) {
        if (tracker_->Update(message.input, mark.watermark_ms)) {
          combined_marks_.push_back(WatermarkMark{mark.row, tracker_->current()});
        }
      }
    }
    state_->OnInputBatch(sides_[message.input], message.batch, *message.key_groups,
                         combined_marks_.empty() ? nullptr : &combined_marks_, emitter_);
  }

  void Advance() {
    const int64_t watermark_ms = tracker_->current();
    state_->OnWatermark(watermark_ms, emitter_);
    emitter_.Watermark(watermark_ms);
  }

  OperatorMetrics* metrics_;
  std::unique_ptr<KeyedOperatorState> state_;
  PortEmitter emitter_;
  KeyedRestore restore_;
  std::unique_ptr<WatermarkTracker> tracker_;
  WatermarkMarks combined_marks_;
  std::vector<int> sides_;  // per input channel: the operator's input it carries
};

// Drives one sink (connectors/sink.h) from its inputs' messages.
class SinkActor final : public InputActor {
 public:
  SinkActor(Scheduler* scheduler, const SinkNode& node, SchemaPtr schema,
            const PlanHandles& handles, OperatorMetrics* metrics)
      : InputActor(scheduler), schema_(std::move(schema)), metrics_(metrics) {
    const SinkKind* kind = FindSinkKind(node.kind);
    MS_CHECK(kind != nullptr, "the plan parser admits registered sink kinds only: " + node.kind);
    SinkSettings settings;
    settings.path = node.path;
    if (kind->takes_callback) settings.callback = handles.sink_callbacks.at(node.handle);
    if (kind->takes_kafka) settings.kafka = &handles.kafka_sinks.at(node.handle);
    sink_ = kind->make(settings, schema_);
  }
  ~SinkActor() override {
    if (!finished_) sink_->Abort();
  }
  // A restored run, before any row: what the sink's part of the checkpoint holds.
  void Restore(const std::string& directory) { sink_->Restore(directory); }
  std::optional<std::vector<BatchPtr>> TakeRows() { return sink_->TakeRows(); }
  const SchemaPtr& schema() const { return schema_; }

 protected:
  void Process(Message& message) override {
    if (message.kind == Message::Kind::kBatch) {
      metrics_->rows_in += message.batch->num_rows();
      sink_->Write(std::move(message.batch), message.origin, message.sequence);
    } else if (message.kind == Message::Kind::kEnd && finished()) {
      sink_->Finish();
      finished_ = true;
    }
  }
  // After Finish (every input ended before the barrier) the sink's part is its finished
  // output: a restored run calls Finish again at its end.
  void TakeCheckpoint(int64_t checkpoint_id, bool finished) override {
    sink_->PrepareCheckpoint(coordinator_->TargetFor(part_, checkpoint_id));
    coordinator_->AckSink(part_, checkpoint_id, finished);
  }
  void Commit(int64_t checkpoint_id) override { sink_->CommitCheckpoint(checkpoint_id); }

 private:
  SchemaPtr schema_;
  OperatorMetrics* metrics_;
  std::unique_ptr<Sink> sink_;
  bool finished_ = false;
};

// Everything one run builds: operators, actors and the chains between them.
class RunGraph {
 public:
  // `coordinator`: null when the run takes no checkpoints. `restore`: null, or the checkpoint
  // (at `restore_dir`) the run starts from.
  RunGraph(const Plan& plan, const PlanHandles& handles, RunMetrics* metrics,
           RunScheduler* scheduler, CheckpointCoordinator* coordinator,
           const CheckpointManifest* restore, std::string restore_dir)
      : plan_(plan), handles_(handles), scheduler_(scheduler), coordinator_(coordinator),
        restore_(restore), restore_dir_(std::move(restore_dir)) {
    const int node_count = static_cast<int>(plan.nodes.size());
    for (int index = 0; index < node_count; ++index) index_of_[plan.nodes[index].id] = index;
    operators_.resize(node_count);
    metrics_.resize(node_count);
    consumers_.resize(node_count);
    for (int index = 0; index < node_count; ++index) {
      for (int input : plan.nodes[index].inputs) consumers_[index_of_.at(input)].push_back(index);
    }
    for (int index = 0; index < node_count; ++index) {
      const PlanNode& node = plan.nodes[index];
      std::vector<SchemaPtr> inputs = InputSchemas(node);
      operators_[index] = BuildOperator(node, inputs, handles);
      if (operators_[index].kind == PhysicalOperator::Kind::kKeyed && !PortConsumed(index, 1)) {
        PruneKeyedInput(node, inputs.front(), handles, &operators_[index]);
      }
      metrics_[index] = metrics->Add(node.label);
    }
    CheckCollectsAreBounded();
    CreateActors();
    ConnectActors();
    RestoreSplitChains();
    if (coordinator_ != nullptr) {
      coordinator_->SetHooks([this](int64_t id) { OnCheckpointStarted(id); },
                             [this](int64_t id) { OnCheckpointComplete(id); });
    }
  }

  void Start() {
    for (auto& driver : sources_) {
      SourceDriver* source = driver.get();
      scheduler_->Spawn([source] { source->Step(); });
    }
  }

  void OnRunSucceeded() {
    for (auto& driver : sources_) driver->OnRunSucceeded();
  }

  // A checkpoint started: every keyed subtask and sink gets its notice (those whose inputs all
  // ended take part at once), and splits parked by watermark alignment step to push their
  // barrier (backpressure and block alignment release theirs as the run goes on).
  void OnCheckpointStarted(int64_t checkpoint_id) {
    auto notify = [checkpoint_id](InputActor* actor) {
      Message notice;
      notice.kind = Message::Kind::kBarrier;
      notice.input = Message::kDirectInput;
      notice.checkpoint_id = checkpoint_id;
      actor->Enqueue(std::move(notice));
    };
    for (auto& [index, subtasks] : keyed_) {
      for (auto& actor : subtasks) notify(actor.get());
    }
    for (auto& [index, sink] : sinks_) notify(sink.get());
    for (auto& alignment : watermark_alignments_) {
      for (SourceDriver* driver : alignment->TakeParked()) {
        scheduler_->Spawn([driver] { driver->Step(); });
      }
    }
  }

  // The checkpoint is complete: each sink commits it, in its actor, after what it wrote before.
  void OnCheckpointComplete(int64_t checkpoint_id) {
    for (auto& [index, sink] : sinks_) {
      Message commit;
      commit.kind = Message::Kind::kCommit;
      commit.input = Message::kDirectInput;
      commit.checkpoint_id = checkpoint_id;
      sink->Enqueue(std::move(commit));
    }
  }

  void Collect(RunResult* result) {
    for (auto& [index, sink] : sinks_) {
      std::optional<std::vector<BatchPtr>> rows = sink->TakeRows();
      if (!rows) continue;
      const int id = plan_.nodes[index].id;
      result->collected[id] = std::move(*rows);
      result->collected_schemas[id] = sink->schema();
    }
  }

 private:
  std::vector<SchemaPtr> InputSchemas(const PlanNode& node) const {
    std::vector<SchemaPtr> schemas;
    for (int input : node.inputs) {
      const auto& outputs = operators_[index_of_.at(input)].output_schemas;
      const int port = node.consumed_port();
      MS_CHECK(port < static_cast<int>(outputs.size()), "port out of range in " + node.label);
      schemas.push_back(outputs[port]);
    }
    return schemas;
  }

  // A collect sink returns a table at the end of the run; below an unbounded source (Kafka
  // without stop="end") there is none. Python says so first; this keeps the engine honest.
  void CheckCollectsAreBounded() const {
    for (size_t index = 0; index < operators_.size(); ++index) {
      const PhysicalOperator& op = operators_[index];
      if (op.kind != PhysicalOperator::Kind::kSource || op.source->bounded()) continue;
      std::vector<int> todo = consumers_[index];
      while (!todo.empty()) {
        const int consumer = todo.back();
        todo.pop_back();
        if (plan_.nodes[consumer].is<SinkNode>() &&
            plan_.nodes[consumer].as<SinkNode>().kind == "collect") {
          throw UserError(op.source->name() + " is unbounded (stop=None): it cannot be collected "
                          "into a table; pass stop='end' to read up to the end offsets, or send "
                          "the stream to write_* / for_each_batch and start() the pipeline");
        }
        todo.insert(todo.end(), consumers_[consumer].begin(), consumers_[consumer].end());
      }
    }
  }

  bool PortConsumed(int index, int port) const {
    for (int consumer : consumers_[index]) {
      if (plan_.nodes[consumer].consumed_port() == port) return true;
    }
    return false;
  }

  // Whether event time is assigned at node `index` or after it: only then do the splits of a
  // source need to stay in step (SplitAlignment); without it the lockstep only costs (at P=2 the
  // in-memory stateless benchmark took 0.30-0.34 s aligned, 0.26 s not).
  bool FeedsWatermark(int index) const {
    if (plan_.nodes[index].is<WatermarkNode>() || plan_.nodes[index].is<ExplicitWatermarkNode>()) {
      return true;
    }
    for (int consumer : consumers_[index]) {
      if (FeedsWatermark(consumer)) return true;
    }
    return false;
  }

  void CreateActors() {
    const int parallelism = plan_.parallelism;
    int keyed_count = 0;
    for (const auto& op : operators_) keyed_count += op.kind == PhysicalOperator::Kind::kKeyed;
    if (keyed_count > 0) state_ = StateEnvironment::Create(plan_.state);
    for (int index = 0; index < static_cast<int>(operators_.size()); ++index) {
      const PhysicalOperator& op = operators_[index];
      const uint64_t origin_base = static_cast<uint64_t>(index) << 32;
      if (op.kind == PhysicalOperator::Kind::kSource) {
        const int node_id = plan_.nodes[index].id;
        auto splits = restore_ == nullptr
            ? op.source->CreateSplits(parallelism, metrics_[index])
            : op.source->CreateSplitsAfter(RestoredPositions(node_id), parallelism, metrics_[index]);
        // Bounded sources are aligned by blocks read (SplitAlignment), unbounded ones (Kafka
        // partitions at their own rates) by watermark (WatermarkAlignment).
        const bool aligned = splits.size() > 1 && FeedsWatermark(index);
        SplitAlignment* alignment = nullptr;
        WatermarkAlignment* watermark_alignment = nullptr;
        if (aligned && op.source->bounded()) {
          alignments_.push_back(std::make_unique<SplitAlignment>(static_cast<int>(splits.size())));
          alignment = alignments_.back().get();
        }
        const size_t first_driver = sources_.size();
        for (size_t split = 0; split < splits.size(); ++split) {
          source_index_.push_back(index);
          sources_.push_back(std::make_unique<SourceDriver>(std::move(splits[split]), origin_base,
                                                            scheduler_, alignment, nullptr,
                                                            static_cast<int>(split)));
          if (coordinator_ != nullptr) {
            sources_.back()->AttachCheckpoints(
                coordinator_, coordinator_->AddSource(node_id, static_cast<int>(split)));
          }
        }
        if (aligned && !op.source->bounded()) {
          std::vector<SourceDriver*> drivers;
          for (size_t driver = first_driver; driver < sources_.size(); ++driver) {
            drivers.push_back(sources_[driver].get());
          }
          watermark_alignments_.push_back(std::make_unique<WatermarkAlignment>(drivers));
          watermark_alignment = watermark_alignments_.back().get();
          for (SourceDriver* driver : drivers) driver->SetWatermarkAlignment(watermark_alignment);
        }
      } else if (op.kind == PhysicalOperator::Kind::kKeyed) {
        auto& subtasks = keyed_[index];
        for (int subtask = 0; subtask < parallelism; ++subtask) {
          SubtaskContext context;
          context.subtask = subtask;
          context.parallelism = parallelism;
          context.max_parallelism = plan_.max_parallelism;
          std::tie(context.first_key_group, context.end_key_group) =
              KeyGroupRange(subtask, parallelism, plan_.max_parallelism);
          context.metrics = metrics_[index];
          const int node_id = plan_.nodes[index].id;
          const std::string operator_id = "op" + std::to_string(node_id);
          KeyedRestore restore = RestoredSubtask(node_id, &context);
          context.state = context.restore_from.empty()
              ? state_->MakeBackend(operator_id, subtask)
              : state_->RestoreBackend(operator_id, subtask, BackendCheckpoints(context.restore_from),
                                       context.first_key_group, context.end_key_group);
          if (plan_.state.kind != "memory") {
            context.hot_state_bytes = plan_.state.cache_bytes / (2 * parallelism * keyed_count);
          }
          const int first_key_group = context.first_key_group, end_key_group = context.end_key_group;
          subtasks.push_back(std::make_unique<KeyedActor>(scheduler_, *op.keyed, std::move(context),
                                                          origin_base + subtask, std::move(restore)));
          if (coordinator_ != nullptr) {
            subtasks.back()->AttachCheckpoints(
                coordinator_, coordinator_->AddKeyed(node_id, subtask, first_key_group, end_key_group));
          }
        }
      } else if (op.kind == PhysicalOperator::Kind::kSink) {
        sinks_[index] = std::make_unique<SinkActor>(scheduler_, plan_.nodes[index].as<SinkNode>(),
                                                    InputSchemas(plan_.nodes[index]).front(),
                                                    handles_, metrics_[index]);
        const int node_id = plan_.nodes[index].id;
        if (restore_ != nullptr) {
          for (const SinkPart& part : restore_->sinks) {
            if (part.node_id == node_id) sinks_[index]->Restore(RestoredPath(part.directory));
          }
        }
        if (coordinator_ != nullptr) {
          sinks_[index]->AttachCheckpoints(coordinator_, coordinator_->AddSink(node_id));
        }
      }
    }
  }

  void ConnectActors() {
    for (size_t source = 0; source < sources_.size(); ++source) {
      publish_watermark_to_ = &sources_[source]->watermark;
      sources_[source]->rows = ChainsOf(source_index_[source], 0);
      sources_[source]->dead_letters = ChainsOf(source_index_[source], 1);
    }
    publish_watermark_to_ = nullptr;
    for (auto& [index, subtasks] : keyed_) {
      for (auto& actor : subtasks) {
        for (size_t port = 0; port < actor->ports.size(); ++port) {
          actor->ports[port] = ChainsOf(index, static_cast<int>(port));
        }
      }
    }
    for (auto& [index, subtasks] : keyed_) {
      for (auto& actor : subtasks) actor->Start();
    }
    for (auto& [index, sink] : sinks_) sink->Start();
  }

  // ---- restore -----------------------------------------------------------------------------
  std::string RestoredPath(const std::string& relative) const {
    return (std::filesystem::path(restore_dir_) / relative).string();
  }

  // The positions of source `node_id`'s splits at the checkpoint, in split order.
  std::vector<std::string> RestoredPositions(int node_id) const {
    std::vector<std::string> positions;
    for (const SourceSplitPart& part : restore_->sources) {
      if (part.node_id == node_id) positions.push_back(part.position);
    }
    return positions;
  }

  // Each split's watermark assigners as they were: split by split when the source has as many
  // splits as then; otherwise (rescaled) every split starts from the least advanced state of
  // any earlier split, number by number (watermarks and maximum event times: a split must not
  // start ahead of rows it has still to read).
  void RestoreSplitChains() {
    if (restore_ == nullptr) return;
    std::map<int, std::vector<const SourceSplitPart*>> saved;
    for (const SourceSplitPart& part : restore_->sources) saved[part.node_id].push_back(&part);
    std::map<int, std::vector<SourceDriver*>> drivers;
    for (size_t source = 0; source < sources_.size(); ++source) {
      drivers[plan_.nodes[source_index_[source]].id].push_back(sources_[source].get());
    }
    for (auto& [node_id, splits] : drivers) {
      const auto& parts = saved[node_id];
      if (parts.empty()) continue;
      if (parts.size() == splits.size()) {
        for (size_t split = 0; split < splits.size(); ++split) {
          splits[split]->RestoreChainState(parts[split]->chain_state);
        }
        continue;
      }
      std::vector<int64_t> least = parts.front()->chain_state;
      for (const SourceSplitPart* part : parts) {
        MS_CHECK(part->chain_state.size() == least.size(), "splits of one source with other chains");
        for (size_t i = 0; i < least.size(); ++i) least[i] = std::min(least[i], part->chain_state[i]);
      }
      for (SourceDriver* split : splits) split->RestoreChainState(least);
    }
  }

  // What subtask context->subtask of keyed operator `node_id` restores: the state of every
  // earlier subtask whose key groups overlap its own (one at the same parallelism), the
  // watermark (the least of theirs) and whether the operator had finished.
  KeyedRestore RestoredSubtask(int node_id, SubtaskContext* context) const {
    KeyedRestore restore;
    if (restore_ == nullptr) return restore;
    std::vector<const KeyedSubtaskPart*> overlapping;
    for (const KeyedSubtaskPart& part : restore_->keyed) {
      if (part.node_id == node_id && part.first_key_group < context->end_key_group &&
          context->first_key_group < part.end_key_group) {
        overlapping.push_back(&part);
      }
    }
    int64_t watermark_ms = kFinalWatermarkMs;
    for (const KeyedSubtaskPart* part : overlapping) {
      restore.ended = restore.ended || part->ended;
      restore.next_sequence = std::max(restore.next_sequence, part->next_sequence);
      if (!part->ended) watermark_ms = std::min(watermark_ms, WatermarkTracker::WatermarkOfState(part->tracker_state));
    }
    if (restore.ended || overlapping.empty()) return restore;
    restore.watermark_ms = watermark_ms;
    if (overlapping.size() == 1 && overlapping.front()->first_key_group == context->first_key_group &&
        overlapping.front()->end_key_group == context->end_key_group) {
      restore.tracker_state = overlapping.front()->tracker_state;
    }
    for (const KeyedSubtaskPart* part : overlapping) {
      context->restore_from.push_back(RestoredPath(part->directory));
    }
    context->restored_watermark_ms = watermark_ms;
    return restore;
  }

  // Where a keyed subtask's Snapshot puts its backend's StateBackend::Checkpoint
  // (ops/keyed_snapshot.h).
  static std::vector<std::string> BackendCheckpoints(const std::vector<std::string>& parts) {
    std::vector<std::string> directories;
    for (const std::string& part : parts) directories.push_back(BackendCheckpointDirectory(part));
    return directories;
  }

  // The chains that consume output `port` of the node at `index`.
  ChainList ChainsOf(int index, int port) {
    ChainList chains;
    std::map<int, int> occurrences;  // a node that reads `index` twice (a self-join) has two sides
    for (int consumer : consumers_[index]) {
      const int occurrence = occurrences[consumer]++;
      const PhysicalOperator& op = operators_[consumer];
      if (plan_.nodes[consumer].consumed_port() != port) continue;
      switch (op.kind) {
        case PhysicalOperator::Kind::kTransform:
          chains.push_back(MakeTransformChain(op.transform, metrics_[consumer], ChainsOf(consumer, 0)));
          break;
        case PhysicalOperator::Kind::kWatermark:
          chains.push_back(MakeWatermarkChain(op.watermark, metrics_[consumer], ChainsOf(consumer, 0),
                                              publish_watermark_to_));
          break;
        case PhysicalOperator::Kind::kUnion:
        case PhysicalOperator::Kind::kPort:
          chains.push_back(MakeCountingChain(metrics_[consumer], ChainsOf(consumer, 0)));
          break;
        case PhysicalOperator::Kind::kKeyed: {
          auto& subtasks = keyed_.at(consumer);
          const int side = SideOf(consumer, index, occurrence);
          std::vector<Actor*> targets;
          int input = -1;
          for (auto& actor : subtasks) {
            targets.push_back(actor.get());
            input = actor->AddInputOf(side);
          }
          chains.push_back(MakeSendChain(std::move(targets), input, op.input_columns,
                                         op.keyed->input_key_columns(side), /*keyed=*/true,
                                         plan_.max_parallelism));
          break;
        }
        case PhysicalOperator::Kind::kSink: {
          SinkActor* sink = sinks_.at(consumer).get();
          const int input = sink->AddInput();
          chains.push_back(MakeSendChain({sink}, input, {}, {}, /*keyed=*/false, plan_.max_parallelism));
          break;
        }
        case PhysicalOperator::Kind::kSource:
          MS_CHECK(false, "a source cannot consume another node");
      }
    }
    return chains;
  }

  // Which input of node `consumer` the node at `index` is, the `occurrence`-th time it is listed
  // among the consumer's inputs (a union lists an input once per side it feeds: not keyed).
  int SideOf(int consumer, int index, int occurrence) const {
    const std::vector<int>& inputs = plan_.nodes[consumer].inputs;
    for (int side = 0; side < static_cast<int>(inputs.size()); ++side) {
      if (index_of_.at(inputs[side]) == index && occurrence-- == 0) return side;
    }
    MS_CHECK(false, "node " + std::to_string(plan_.nodes[index].id) + " is not an input of " +
                        DescribeNode(plan_.nodes[consumer]));
    return 0;
  }

  const Plan& plan_;
  const PlanHandles& handles_;
  RunScheduler* scheduler_;
  CheckpointCoordinator* coordinator_;
  const CheckpointManifest* restore_;
  const std::string restore_dir_;
  std::map<int, int> index_of_;
  std::vector<PhysicalOperator> operators_;
  std::vector<OperatorMetrics*> metrics_;
  std::vector<std::vector<int>> consumers_;
  std::shared_ptr<StateEnvironment> state_;  // outlives the keyed actors' backends
  std::vector<std::unique_ptr<SplitAlignment>> alignments_;  // one per bounded source
  std::vector<std::unique_ptr<WatermarkAlignment>> watermark_alignments_;  // per unbounded one
  // While the chains of a source split are built: where its watermark assigner publishes.
  SplitWatermark* publish_watermark_to_ = nullptr;
  std::vector<std::unique_ptr<SourceDriver>> sources_;
  std::vector<int> source_index_;
  std::map<int, std::vector<std::unique_ptr<KeyedActor>>> keyed_;
  std::map<int, std::unique_ptr<SinkActor>> sinks_;
};

}  // namespace

Executor::Executor(Plan plan, PlanHandles handles, CheckpointOptions checkpoints)
    : plan_(std::move(plan)), handles_(std::move(handles)),
      checkpoint_options_(std::move(checkpoints)) {
  CheckHandles(plan_, handles_);
  if (checkpoint_options_.kept < 1) {
    throw UserError("checkpoints_kept must be at least 1, got " + std::to_string(checkpoint_options_.kept));
  }
  if (!checkpoint_options_.restore_from.empty()) {
    const std::string& directory = checkpoint_options_.restore_from;
    CheckpointManifest manifest = ReadManifest(directory);
    const std::string problem = VerifyCheckpoint(directory, manifest);
    if (!problem.empty()) {
      throw UserError("cannot restore from " + directory + ": " + problem +
                      " (the checkpoint is damaged; restore from an earlier one)");
    }
    if (manifest.max_parallelism != plan_.max_parallelism) {
      throw UserError("cannot restore from " + directory + ": it was taken with max_parallelism " +
                      std::to_string(manifest.max_parallelism) + ", the pipeline has " +
                      std::to_string(plan_.max_parallelism) +
                      "; key groups are fixed by max_parallelism: use the same");
    }
    CheckPlanMatches(manifest, plan_, directory);
    restore_ = std::move(manifest);
  }
}

Executor::~Executor() = default;

void Executor::RequestStop() {
  // An unbounded run that takes checkpoints stops with one (design-notes: Checkpoints): its
  // splits stop after its barrier, without ending their input, so open windows stay open in
  // the checkpoint and a restored run goes on from there.
  if (!checkpoint_options_.directory.empty() && !bounded() && stop_after_checkpoint_.load() == 0) {
    stop_after_checkpoint_ = RequestCheckpoint();
  }
  stop_requested_ = true;
}

int64_t Executor::RequestCheckpoint() {
  std::lock_guard<std::mutex> lock(checkpoint_mutex_);
  if (!accepting_checkpoints_ || !coordinator_) return 0;
  const int64_t checkpoint_id = coordinator_->Request();
  if (checkpoint_id == 0) return 0;
  std::shared_ptr<CheckpointCoordinator> coordinator = coordinator_;
  run_task_([coordinator] { coordinator->StartIfRequested(); });
  return checkpoint_id;
}

int64_t Executor::TriggerCheckpoint() {
  if (checkpoint_options_.directory.empty()) {
    throw UserError("this pipeline takes no checkpoints: give it a checkpoint_dir "
                    "(Pipeline(checkpoint_dir=...))");
  }
  {
    // Asked right after the job started: the run's graph is still being built.
    std::unique_lock<std::mutex> lock(checkpoint_mutex_);
    run_state_changed_.wait_for(lock, std::chrono::seconds(10),
                                [this] { return accepting_checkpoints_ || run_ended_; });
  }
  const int64_t checkpoint_id = RequestCheckpoint();
  if (checkpoint_id == 0) {
    throw UserError("the run is not under way (not yet started, or ended): no checkpoint taken");
  }
  return checkpoint_id;
}

bool Executor::WaitForCheckpoint(int64_t checkpoint_id, int64_t timeout_ms) {
  std::shared_ptr<CheckpointCoordinator> coordinator;
  {
    std::lock_guard<std::mutex> lock(checkpoint_mutex_);
    coordinator = coordinator_;
  }
  return coordinator && coordinator->WaitFor(checkpoint_id, std::chrono::milliseconds(timeout_ms));
}

int64_t Executor::Savepoint(const std::string& path, int64_t timeout_ms) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(path, error)) {
    throw UserError("savepoint: " + path + " exists; give a path that does not");
  }
  const int64_t requested = TriggerCheckpoint();
  if (!WaitForCheckpoint(requested, timeout_ms)) {
    throw UserError("savepoint: checkpoint " + std::to_string(requested) + " did not complete within " +
                    std::to_string(timeout_ms) + " ms (or the run ended first); try again");
  }
  std::shared_ptr<CheckpointCoordinator> coordinator;
  {
    std::lock_guard<std::mutex> lock(checkpoint_mutex_);
    coordinator = coordinator_;
  }
  const auto [checkpoint_id, directory] = coordinator->PinLatest();
  struct Unpin {
    CheckpointCoordinator* coordinator;
    int64_t id;
    ~Unpin() { coordinator->Unpin(id); }
  } unpin{coordinator.get(), checkpoint_id};
  // Real copies (a savepoint outlives the checkpoints it came from); the MANIFEST last, so
  // that a copy cut short is not taken for a complete one.
  fs::create_directories(path);
  for (const auto& entry : fs::recursive_directory_iterator(directory)) {
    const fs::path target = fs::path(path) / fs::relative(entry.path(), directory);
    if (entry.is_directory()) {
      fs::create_directories(target);
    } else if (entry.path().filename() != kManifestName) {
      fs::copy_file(entry.path(), target);
    }
  }
  WriteFileAtomically((fs::path(path) / kManifestName).string(),
                      ReadWholeFile((fs::path(directory) / kManifestName).string()));
  return checkpoint_id;
}

bool Executor::bounded() const {
  for (const PlanNode& node : plan_.nodes) {
    if (node.is<SourceNode>() && !handles_.sources.at(node.as<SourceNode>().handle)->bounded()) {
      return false;
    }
  }
  return true;
}

namespace {

// Asks for a checkpoint every `interval`, from a thread of its own, until destroyed.
class CheckpointTimer {
 public:
  CheckpointTimer(std::chrono::milliseconds interval, std::function<void()> request) {
    if (interval.count() <= 0) return;
    thread_ = std::thread([this, interval, request = std::move(request)] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!wake_.wait_for(lock, interval, [this] { return closing_; })) {
        lock.unlock();
        request();
        lock.lock();
      }
    });
  }
  ~CheckpointTimer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
  std::thread thread_;
};

// A bounded run that reached its end needs no checkpoint: they are removed, as Flink discards
// a finished job's, so that running the script again starts afresh.
void RemoveCheckpoints(const std::string& checkpoint_dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(checkpoint_dir, error)) return;
  for (const auto& entry : std::filesystem::directory_iterator(checkpoint_dir)) {
    if (CheckpointIdOfName(entry.path().filename().string()) >= 0) {
      std::filesystem::remove_all(entry.path());
    }
  }
}

}  // namespace

RunResult Executor::Run(const std::atomic<bool>& cancel) {
  const auto started = std::chrono::steady_clock::now();
  // A cancelled run (Ctrl-C, job.stop()) ends the worker threads (when no other run uses them)
  // and leaves no threads behind; a finished run keeps them for the next run, as ending them
  // costs ~0.1 s.
  tbb::task_scheduler_handle scheduler_handle{tbb::attach{}};
  struct FinalizeWorkersIfCancelled {
    tbb::task_scheduler_handle& handle;
    const std::atomic<bool>& cancel;
    ~FinalizeWorkersIfCancelled() {
      if (cancel.load()) {
        tbb::finalize(handle, std::nothrow);
      } else {
        handle.release();
      }
    }
  } finalize_workers{scheduler_handle, cancel};
  // TBB caps its threads at the core count by default; a run asks for `parallelism` of them.
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism,
                              std::max(plan_.parallelism, tbb::info::default_concurrency()));
  tbb::task_arena arena(plan_.parallelism);
  tbb::task_group group;
  RunTimer timer(&arena, &group);
  RunScheduler scheduler(&group, &timer, &cancel, &stop_requested_, &stop_after_checkpoint_,
                         std::max<int64_t>(16, 4 * plan_.parallelism));
  std::shared_ptr<CheckpointCoordinator> coordinator;
  const std::string& checkpoint_dir = checkpoint_options_.directory;
  if (!checkpoint_dir.empty()) {
    std::filesystem::create_directories(checkpoint_dir);
    const int64_t first_id = std::max(LargestCheckpointId(checkpoint_dir),
                                       restore_ ? restore_->checkpoint_id : 0) + 1;
    coordinator = std::make_shared<CheckpointCoordinator>(
        checkpoint_options_, PrintOperators(plan_), plan_.parallelism, plan_.max_parallelism,
        first_id, &metrics_.checkpoints);
  }
  // Requests are taken from here until the run's tasks are done (see the second wait below).
  auto stop_accepting = [this] {
    {
      std::lock_guard<std::mutex> lock(checkpoint_mutex_);
      accepting_checkpoints_ = false;
      run_ended_ = true;
      run_task_ = nullptr;
    }
    run_state_changed_.notify_all();
  };
  struct StopAcceptingAtExit {  // also when the run fails before it started
    std::function<void()> stop;
    ~StopAcceptingAtExit() { stop(); }
  } stop_accepting_at_exit{stop_accepting};
  struct CloseCoordinator {
    std::shared_ptr<CheckpointCoordinator> coordinator;
    ~CloseCoordinator() {
      if (coordinator) coordinator->Close();
    }
  } close_coordinator{coordinator};
  RunResult result;
  arena.execute([&] {
    RunGraph graph(plan_, handles_, &metrics_, &scheduler, coordinator.get(),
                   restore_ ? &*restore_ : nullptr, checkpoint_options_.restore_from);
    {
      std::lock_guard<std::mutex> lock(checkpoint_mutex_);
      coordinator_ = coordinator;
      accepting_checkpoints_ = coordinator != nullptr;
      run_task_ = [&timer](std::function<void()> task) { timer.After(std::chrono::milliseconds(0), std::move(task)); };
    }
    run_state_changed_.notify_all();
    CheckpointTimer interval(std::chrono::milliseconds(checkpoint_options_.interval_ms),
                             [this] { RequestCheckpoint(); });
    graph.Start();
    try {
      group.wait();
      // A request may have slipped in as the last task ended: it is a task of the group too.
      stop_accepting();
      group.wait();
    } catch (...) {
      stop_accepting();
      group.cancel();
      timer.FireAll();  // resting splits run now, cancelled, so that the wait below ends
      group.wait();
      throw;
    }
    if (cancel.load()) throw Cancelled();
    graph.OnRunSucceeded();
    graph.Collect(&result);
  });
  if (coordinator) coordinator->Close();
  if (!checkpoint_dir.empty() && bounded() && !stop_requested_.load()) RemoveCheckpoints(checkpoint_dir);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace millstream
