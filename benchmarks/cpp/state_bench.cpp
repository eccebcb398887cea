// Throughput of the keyed-state foundations: ComputeKeyGroups (called by the exchange on every
// batch), key encoding, and the state backends (Put+Commit, Get, Scan) with 16-byte keys and
// 32-byte values. One thread; prints a table.
//
// Build and run (from the repo root; needs only these sources, not the rest of the engine):
//   PA=$(.venv/bin/python -c 'import pyarrow; print(pyarrow.get_library_dirs()[0])'); g++ -O2 -DNDEBUG -std=c++20 -Icpp/src -I$(.venv/bin/python -c 'import pyarrow; print(pyarrow.get_include())') benchmarks/cpp/state_bench.cpp cpp/src/core/error.cpp cpp/src/core/key_groups.cpp cpp/src/core/key_encoding.cpp cpp/src/state/memory_backend.cpp cpp/src/state/rocksdb_backend.cpp cpp/src/state/rocksdb_resources.cpp cpp/src/state/state_factory.cpp -L$PA -l:libarrow.so.2600 -lrocksdb -Wl,-rpath,$PA -o /tmp/state_bench && /tmp/state_bench
// Optional arguments: the number of state entries (default 2000000), and one part to run:
// keys | memory | rocksdb.
//
// Measured 2026-11-26 on the 2-core AMD EPYC VM (AVX2 and AVX-512; the hash code uses neither).
// Key groups and encoding (earlier run, 1 M entries, load average 7; not rerun):
//   ComputeKeyGroups one int64, M=128      240-400 M rows/s wall   520-570 M/s cpu
//   ComputeKeyGroups one string (~14 B)     50-108 M rows/s wall   108-124 M/s cpu
//   KeyEncoder int64 + string               25-52 M rows/s wall     61 M/s cpu
//   memory: Put 0.38, Get present 0.32, absent 3.9 M/s, Scan 4.4 M/s (std::map; cache misses)
// RocksDB, `state_bench 1000000 rocksdb`, M ops/s on this thread's CPU (wall within 10% unless
// given), before (main at d40e6b9, 11:33 UTC, load average ~3) and after (branch spill: writes
// sorted at Commit without a WriteBatchWithIndex, memtable insert hints, perf counters off;
// 11:53 UTC, load average 1.4-1.8):
//                                            before   after
//   256 MB cache, commit every 4096
//     Put+Commit                              0.20     0.46
//     Get present                             0.23     0.22
//     MultiGet present (4096 a call)          -        0.25
//     Get absent                              0.70     0.71
//     Get+Put update                          0.08     0.10  (a Get after a Put applies it)
//     Scan                                    3.3      3.0
//   256 MB cache, commit every 65536
//     Put+Commit                              0.15     0.92
//     Get present / MultiGet present          0.22     0.24 / 0.29
//   8 MB cache (state ~8x the cache)
//     Put+Commit                              0.35     1.38 (wall 0.62: flushes of 1 MB memtables)
//     Get present / MultiGet present          0.10     0.11 / 0.13
//     Get absent                              0.80     0.74
// A Get of a present key costs ~4 us: memtable and L0 lookups (skiplists, partitioned filters,
// binary search in 16 KB blocks); a hash index in the data blocks measured 0.22 -> 0.28 once and
// 0.24 the next time, within this VM's noise, so it was left out.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include <arrow/api.h>

#include "core/error.h"
#include "core/key_groups.h"
#include "state/rocksdb_backend.h"
#include "state/state_factory.h"

namespace millstream {
namespace {

// Wall time, and this thread's CPU time: on a busy machine (other jobs on the 2 cores) the CPU
// time still shows the cost of the work itself. Background RocksDB flushes and compactions run
// on other threads and are in neither (they are in the wall time only if they stall writes).
struct Clock {
  std::chrono::steady_clock::time_point wall;
  double thread_cpu_seconds;
  static Clock now() { return {std::chrono::steady_clock::now(), ThreadCpuSeconds()}; }
  static double ThreadCpuSeconds() {
    timespec time;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time);
    return static_cast<double>(time.tv_sec) + time.tv_nsec * 1e-9;
  }
};

struct Elapsed {
  double wall_seconds;
  double cpu_seconds;
};

Elapsed SecondsSince(const Clock& start) {
  const Clock end = Clock::now();
  return {std::chrono::duration<double>(end.wall - start.wall).count(),
          end.thread_cpu_seconds - start.thread_cpu_seconds};
}

void Row(const char* what, int64_t operations, Elapsed elapsed, const char* unit) {
  std::printf("%-62s %9.2f M %s/s wall %9.2f M/s cpu  (%lld in %.3f s)\n", what,
              operations / elapsed.wall_seconds / 1e6, unit, operations / elapsed.cpu_seconds / 1e6,
              static_cast<long long>(operations), elapsed.wall_seconds);
}

std::shared_ptr<arrow::RecordBatch> KeyBatch(int64_t rows) {
  std::mt19937_64 random(1);
  arrow::Int64Builder ints;
  arrow::StringBuilder strings;
  for (int64_t row = 0; row < rows; ++row) {
    CheckArrow(ints.Append(static_cast<int64_t>(random() % 1000000)), "bench");
    CheckArrow(strings.Append("auction-" + std::to_string(random() % 100000)), "bench");
  }
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});
  return arrow::RecordBatch::Make(schema, rows, {CheckArrow(ints.Finish(), "bench"), CheckArrow(strings.Finish(), "bench")});
}

void BenchKeyGroups() {
  const int64_t batch_rows = 65536;  // kDefaultBatchSize
  auto batch = KeyBatch(batch_rows);
  std::vector<uint16_t> key_groups;
  struct Case { const char* name; std::vector<int> columns; int max_parallelism; int repeats; };
  const Case cases[] = {
      {"ComputeKeyGroups int64, max_parallelism 128", {0}, 128, 4000},
      {"ComputeKeyGroups int64, max_parallelism 100", {0}, 100, 4000},
      {"ComputeKeyGroups string (~14 bytes), max_parallelism 128", {1}, 128, 500},
      {"ComputeKeyGroups int64 + string, max_parallelism 128", {0, 1}, 128, 500},
  };
  uint64_t checksum = 0;
  for (const Case& c : cases) {
    ComputeKeyGroups(*batch, c.columns, c.max_parallelism, &key_groups);  // warm up
    const auto start = Clock::now();
    for (int repeat = 0; repeat < c.repeats; ++repeat) {
      ComputeKeyGroups(*batch, c.columns, c.max_parallelism, &key_groups);
      checksum += key_groups[repeat % batch_rows];
    }
    Row(c.name, batch_rows * c.repeats, SecondsSince(start), "rows");
  }
  std::string key;
  const auto start = Clock::now();
  const int repeats = 100;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    KeyEncoder encoder(*batch, {0, 1});
    for (int64_t row = 0; row < batch_rows; ++row) {
      key.clear();
      encoder.Append(row, &key);
      checksum += key.size();
    }
  }
  Row("KeyEncoder int64 + string, one key per row", batch_rows * repeats, SecondsSince(start), "rows");
  std::printf("(checksum %llu)\n", static_cast<unsigned long long>(checksum));
}

// 16-byte keys: [key group u16][8-byte key][6-byte namespace], the layout of DESIGN.md.
std::string StateKey(uint64_t number) {
  std::string key;
  AppendKeyGroup(static_cast<int>((number * 0x9E3779B97F4A7C15ULL) >> 57), &key);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(number >> shift));
  for (int shift = 40; shift >= 0; shift -= 8) key.push_back(static_cast<char>((number * 7) >> shift));
  return key;
}

void BenchBackend(const std::string& kind, int64_t entries, int64_t cache_bytes, int64_t commit_every) {
  StateOptions options;
  options.kind = kind;
  options.cache_bytes = cache_bytes;
  auto environment = StateEnvironment::Create(options);
  auto state = environment->MakeBackend("bench", 0);
  const int cf = state->ColumnFamily("windows");
  std::vector<uint64_t> order(entries);
  for (int64_t i = 0; i < entries; ++i) order[i] = static_cast<uint64_t>(i);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(2));
  const std::string value(32, 'v');
  const std::string name =
      kind == "rocksdb" ? "rocksdb/" + std::to_string(cache_bytes >> 20) + "MB cache" : kind;
  char label[128];

  auto start = Clock::now();
  for (int64_t i = 0; i < entries; ++i) {
    state->Put(cf, StateKey(order[i]), value);
    if (i % commit_every == commit_every - 1) state->Commit();
  }
  state->Commit();
  std::snprintf(label, sizeof(label), "%s Put+Commit (random order, commit every %lld)", name.c_str(),
                static_cast<long long>(commit_every));
  Row(label, entries, SecondsSince(start), "ops");
  if (auto* rocksdb = dynamic_cast<RocksDbBackend*>(state.get()); rocksdb && std::getenv("STATE_BENCH_VERBOSE")) {
    std::printf("%s", rocksdb->Property(cf, "rocksdb.levelstats").c_str());
  }

  std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
  std::string read;
  int64_t found = 0;
  start = Clock::now();
  for (int64_t i = 0; i < entries; ++i) found += state->Get(cf, StateKey(order[i]), &read);
  std::snprintf(label, sizeof(label), "%s Get (present keys, random order)", name.c_str());
  Row(label, entries, SecondsSince(start), "ops");
  if (found != entries) std::printf("ERROR: %lld of %lld found\n", static_cast<long long>(found), static_cast<long long>(entries));

  // The same keys in MultiGets of 4096 (as the operators read a batch's cold keys back).
  std::vector<std::string> keys;
  int64_t multi_found = 0;
  start = Clock::now();
  for (int64_t first = 0; first < entries; first += 4096) {
    keys.clear();
    for (int64_t i = first; i < std::min(entries, first + 4096); ++i) keys.push_back(StateKey(order[i]));
    state->MultiGet(cf, keys, [&](size_t, std::string_view value) { multi_found += !value.empty(); });
  }
  std::snprintf(label, sizeof(label), "%s MultiGet (present keys, random order, 4096 a call)", name.c_str());
  Row(label, entries, SecondsSince(start), "ops");
  if (multi_found != entries) std::printf("ERROR: %lld of %lld found\n", static_cast<long long>(multi_found), static_cast<long long>(entries));

  start = Clock::now();
  for (int64_t i = 0; i < entries; ++i) found -= state->Get(cf, StateKey(order[i] + entries), &read);
  std::snprintf(label, sizeof(label), "%s Get (absent keys)", name.c_str());
  Row(label, entries, SecondsSince(start), "ops");

  // Update in place, as accumulators are: Get, Put, Commit per batch.
  start = Clock::now();
  const int64_t updates = std::min<int64_t>(entries, 1000000);
  for (int64_t i = 0; i < updates; ++i) {
    const std::string key = StateKey(order[i]);
    state->Get(cf, key, &read);
    read[0] = 'w';
    state->Put(cf, key, read);
    if (i % commit_every == commit_every - 1) state->Commit();
  }
  state->Commit();
  std::snprintf(label, sizeof(label), "%s Get+Put update (commit every %lld)", name.c_str(),
                static_cast<long long>(commit_every));
  Row(label, updates, SecondsSince(start), "ops");

  start = Clock::now();
  int64_t scanned = 0;
  for (auto it = state->Scan(cf, "", ""); it->Valid(); it->Next()) scanned += it->value().size() > 0;
  std::snprintf(label, sizeof(label), "%s Scan (all entries)", name.c_str());
  Row(label, scanned, SecondsSince(start), "entries");
}

}  // namespace
}  // namespace millstream

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, also into a file
  const int64_t entries = argc > 1 ? std::atoll(argv[1]) : 2000000;
  const std::string only = argc > 2 ? argv[2] : "";  // "keys", "memory" or "rocksdb"
  if (only.empty() || only == "keys") millstream::BenchKeyGroups();
  if (only.empty() || only == "memory") millstream::BenchBackend("memory", entries, 256ll << 20, 4096);
  if (only == "rocksdb-large-cache") millstream::BenchBackend("rocksdb", entries, 256ll << 20, 4096);
  if (only == "rocksdb-small-cache") millstream::BenchBackend("rocksdb", entries, 8ll << 20, 4096);
  if (only.empty() || only == "rocksdb") {
    millstream::BenchBackend("rocksdb", entries, 256ll << 20, 4096);
    millstream::BenchBackend("rocksdb", entries, 256ll << 20, 65536);
    millstream::BenchBackend("rocksdb", entries, 8ll << 20, 4096);
  }
  return 0;
}
