// Checkpoint and restore of keyed state against its size: a running aggregation (count + sum
// per key) of one subtask on the RocksDB backend, driven directly as the runtime drives it.
//
// For each key count (default 1e5 1e6 1e7): one row per key (in random order, batches of 65536),
// then checkpoint 1; 1% of the keys updated, checkpoint 2 (what it shares with checkpoint 1 by
// hard links is the incremental part); then restores from checkpoint 2: at the same key groups
// (reopen: link + open + the store's bookkeeping file), and rescaled to half the key groups
// (link + open + DeleteRange, then the store scans its half) and from two halves into one
// (the second half copied in); and the first batch after the same-range restore (its keys read
// back from the restored DB).
//
// Build and run (from the repository root, after `cmake --build build/dev`):
//   PA=$(.venv/bin/python -c 'import pyarrow as p; print(p.get_library_dirs()[0])') && g++ -O2 -DNDEBUG -std=c++20 -D_GLIBCXX_USE_CXX11_ABI=1 -Icpp/src -I$PA/include benchmarks/cpp/state_checkpoint_bench.cpp -Wl,--start-group build/dev/cpp/libmillstream_*.a -Wl,--end-group -lssl -lcrypto $PA/libparquet.so.2600 $PA/libarrow_compute.so.2600 $PA/libarrow.so.2600 -lrocksdb -ltbb -lsimdjson -lrdkafka -Wl,-rpath,$PA -o build/dev/state_checkpoint_bench && build/dev/state_checkpoint_bench /tmp/ckpt-bench 100000 1000000 10000000
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <arrow/api.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/key_groups.h"
#include "ops/keyed_snapshot.h"
#include "ops/window_aggregate.h"
#include "state/state_backend.h"
#include "state/state_factory.h"

using namespace millstream;
namespace fs = std::filesystem;

namespace {

constexpr int kMaxParallelism = 128;
constexpr int64_t kBatchRows = 65536;
constexpr int64_t kHotStateBytes = 64ll << 20;  // the state beyond it lives in RocksDB
constexpr int64_t kCacheBytes = 256ll << 20;

class NullEmitter final : public Emitter {
 public:
  void Emit(int, BatchPtr batch) override { rows += batch->num_rows(); }
  int64_t rows = 0;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Bytes of the files under `directory`, and of those the bytes of files whose inode is also
// under `previous` (hard-linked: not written again).
std::pair<int64_t, int64_t> Size(const std::string& directory, const std::string& previous) {
  std::set<ino_t> earlier;
  if (!previous.empty()) {
    for (const auto& entry : fs::recursive_directory_iterator(previous)) {
      struct stat info {};
      if (entry.is_regular_file() && ::stat(entry.path().c_str(), &info) == 0) earlier.insert(info.st_ino);
    }
  }
  int64_t total = 0, shared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(directory)) {
    struct stat info {};
    if (!entry.is_regular_file() || ::stat(entry.path().c_str(), &info) != 0) continue;
    total += info.st_size;
    if (earlier.count(info.st_ino)) shared += info.st_size;
  }
  return {total, shared};
}

struct Batches {
  std::vector<BatchPtr> batches;
  std::vector<std::vector<uint16_t>> key_groups;
};

Batches MakeBatches(std::vector<int64_t> keys, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::shuffle(keys.begin(), keys.end(), random);
  auto schema = arrow::schema({arrow::field("key", arrow::int64()), arrow::field("value", arrow::float64())});
  Batches out;
  for (size_t first = 0; first < keys.size(); first += kBatchRows) {
    const size_t n = std::min<size_t>(kBatchRows, keys.size() - first);
    arrow::Int64Builder key;
    arrow::DoubleBuilder value;
    for (size_t i = 0; i < n; ++i) {
      CheckArrow(key.Append(keys[first + i]), "key");
      CheckArrow(value.Append(static_cast<double>(keys[first + i] % 1000) * 0.25), "value");
    }
    out.batches.push_back(arrow::RecordBatch::Make(schema, static_cast<int64_t>(n),
                                                   {CheckArrow(key.Finish(), "key"), CheckArrow(value.Finish(), "value")}));
    out.key_groups.emplace_back();
    ComputeKeyGroups(*out.batches.back(), {0}, kMaxParallelism, &out.key_groups.back());
  }
  return out;
}

SubtaskContext Context(int subtask, int parallelism) {
  SubtaskContext context;
  context.subtask = subtask;
  context.parallelism = parallelism;
  context.max_parallelism = kMaxParallelism;
  std::tie(context.first_key_group, context.end_key_group) = KeyGroupRange(subtask, parallelism, kMaxParallelism);
  context.hot_state_bytes = kHotStateBytes;
  return context;
}

void Feed(KeyedOperatorState& state, const Batches& input) {
  NullEmitter out;
  for (size_t b = 0; b < input.batches.size(); ++b) state.OnBatch(input.batches[b], input.key_groups[b], out);
}

// The state of `subtask` of `parallelism` restored from the snapshot directories, as the
// runtime restores it: the backend first (its seconds in *backend_s if given), then the
// operator state over it.
std::unique_ptr<KeyedOperatorState> Restore(const KeyedOperator& op, StateEnvironment& environment,
                                            const std::string& operator_id, int subtask,
                                            int parallelism, const std::vector<std::string>& snapshots,
                                            double* backend_s = nullptr) {
  const auto start = std::chrono::steady_clock::now();
  SubtaskContext context = Context(subtask, parallelism);
  context.restore_from = snapshots;
  std::vector<std::string> checkpoints;
  for (const std::string& snapshot : snapshots) checkpoints.push_back(BackendCheckpointDirectory(snapshot));
  context.state = environment.RestoreBackend(operator_id, subtask, checkpoints,
                                             context.first_key_group, context.end_key_group);
  if (backend_s != nullptr) *backend_s = Seconds(start);
  return op.CreateState(std::move(context));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <scratch dir> <keys>...\n", argv[0]);
    return 2;
  }
  const std::string scratch = argv[1];
  auto op = MakeRunningAggregate(
      arrow::schema({arrow::field("key", arrow::int64()), arrow::field("value", arrow::float64())}),
      {0}, {{"count", -1, "n"}, {"sum", 1, "total"}});
  std::printf("%10s %9s %9s %10s %9s %10s %10s %9s %9s %9s %9s %10s\n", "keys", "fill s", "chk1 s",
              "chk1 MB", "chk2 s", "chk2 MB", "shared MB", "restore", "half", "2->1", "2->1 db",
              "1st batch");
  for (int a = 2; a < argc; ++a) {
    const int64_t keys = std::atoll(argv[a]);
    fs::remove_all(scratch);
    StateOptions options;
    options.kind = "rocksdb";
    options.directory = scratch + "/state";
    options.cache_bytes = kCacheBytes;
    auto environment = StateEnvironment::Create(options);
    std::vector<int64_t> all(keys);
    std::iota(all.begin(), all.end(), 0);
    const Batches fill = MakeBatches(all, 1);
    std::vector<int64_t> some(all.begin(), all.begin() + std::max<int64_t>(1, keys / 100));
    const Batches update = MakeBatches(some, 2);
    std::vector<int64_t> probe(all.begin(), all.begin() + std::min<int64_t>(keys, kBatchRows));
    const Batches first_batch = MakeBatches(probe, 3);

    const std::string chk1 = scratch + "/chk-1/subtask-0", chk2 = scratch + "/chk-2/subtask-0";
    double fill_s, chk1_s, chk2_s;
    {
      SubtaskContext context = Context(0, 1);
      context.state = environment->MakeBackend("op", 0);
      auto state = op->CreateState(std::move(context));
      auto start = std::chrono::steady_clock::now();
      Feed(*state, fill);
      fill_s = Seconds(start);
      fs::create_directories(chk1);
      start = std::chrono::steady_clock::now();
      state->Snapshot(SnapshotTarget{1, chk1, ""});
      chk1_s = Seconds(start);
      Feed(*state, update);
      fs::create_directories(chk2);
      start = std::chrono::steady_clock::now();
      state->Snapshot(SnapshotTarget{2, chk2, chk1});
      chk2_s = Seconds(start);
    }
    const auto [chk1_bytes, unused] = Size(chk1, "");
    const auto [chk2_bytes, shared_bytes] = Size(chk2, chk1);

    // Same key groups: reopen.
    auto start = std::chrono::steady_clock::now();
    auto restored = Restore(*op, *environment, "restored", 0, 1, {chk2});
    const double restore_s = Seconds(start);
    start = std::chrono::steady_clock::now();
    Feed(*restored, first_batch);
    const double first_batch_s = Seconds(start);
    restored.reset();

    // Rescaled to two subtasks: the first's restore (the second is alike).
    start = std::chrono::steady_clock::now();
    auto half_state = Restore(*op, *environment, "half", 0, 2, {chk2});
    const double half_s = Seconds(start);
    // ... and back: both halves checkpointed, restored into one.
    std::vector<std::string> halves;
    {
      auto other_state = Restore(*op, *environment, "half", 1, 2, {chk2});
      for (int p = 0; p < 2; ++p) {
        halves.push_back(scratch + "/chk-3/subtask-" + std::to_string(p));
        fs::create_directories(halves.back());
        (p == 0 ? half_state : other_state)->Snapshot(SnapshotTarget{3, halves.back(), ""});
      }
    }
    half_state.reset();
    start = std::chrono::steady_clock::now();
    double merge_db_s = 0;
    auto merged_state = Restore(*op, *environment, "merged", 0, 1, halves, &merge_db_s);
    const double merge_s = Seconds(start);
    merged_state.reset();

    std::printf("%10lld %9.2f %9.3f %10.1f %9.3f %10.1f %10.1f %9.3f %9.3f %9.2f %9.2f %10.3f\n",
                static_cast<long long>(keys), fill_s, chk1_s, chk1_bytes / 1e6, chk2_s,
                chk2_bytes / 1e6, shared_bytes / 1e6, restore_s, half_s, merge_s, merge_db_s,
                first_batch_s);
    std::fflush(stdout);
  }
  fs::remove_all(scratch);
  return 0;
}
