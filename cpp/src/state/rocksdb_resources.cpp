#include "state/rocksdb_resources.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include <rocksdb/cache.h>
#include <rocksdb/write_buffer_manager.h>

#include "core/error.h"

namespace millstream {

namespace {

std::string MakeTempDirectory() {
  std::string pattern = (std::filesystem::temp_directory_path() / "millstream-state-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw UserError("cannot create a temp directory for the rocksdb state backend under " +
                    std::filesystem::temp_directory_path().string() +
                    ": set state_dir to a writable directory");
  }
  return pattern;
}

}  // namespace

RocksDbResources::RocksDbResources(const std::string& directory, int64_t cache_bytes)
    : temporary_(directory.empty()), cache_bytes_(cache_bytes) {
  if (temporary_) {
    directory_ = MakeTempDirectory();
  } else {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      throw UserError("cannot create the state directory '" + directory + "': " + error.message());
    }
    directory_ = std::filesystem::absolute(directory).string();
  }
  // One budget: memtables are charged to the block cache (the write buffer manager puts dummy
  // entries in it), so cache + memtables stay near cache_bytes. Half of it may be memtables,
  // which a write-heavy workload wants; reads still get the other half and whatever memtables
  // do not use. Not a strict limit: RocksDB may overshoot briefly while a flush runs.
  block_cache_ = rocksdb::NewLRUCache(static_cast<size_t>(cache_bytes_), /*num_shard_bits=*/-1,
                                      /*strict_capacity_limit=*/false,
                                      /*high_pri_pool_ratio=*/0.1);
  // No write stalls: a DB over budget flushes its own memtables, but a stall would wait for the
  // memtables of other subtasks' DBs, which may be blocked on this one through backpressure.
  write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(cache_bytes_ / 2), block_cache_, /*allow_stall=*/false);
}

RocksDbResources::~RocksDbResources() {
  if (temporary_) {
    std::error_code ignored;  // best effort: a leftover temp directory is not worth a crash
    std::filesystem::remove_all(directory_, ignored);
  }
}

int64_t RocksDbResources::memtable_bytes() const {
  // A third of the cache (the write buffer manager flushes once all memtables pass half of
  // it); 64 MB is RocksDB's default and larger ones only slow flushes down. An eighth made small
  // state budgets flush and compact tiny files: a running aggregation 4x beyond a 12 MB
  // state_memory (1 MB memtables) took a median 11.8 s CPU (10.1-13.5, 6 runs, busy machine)
  // against 9.9 s (9.1-11.3, 4 runs) with 2 MB ones (docs/design-notes.md, the cold path).
  return std::clamp<int64_t>(cache_bytes_ / 3, 1 << 20, 64 << 20);
}

std::string RocksDbResources::ClaimPath(const std::string& operator_id, int subtask) {
  MS_CHECK(!operator_id.empty() &&
               std::all_of(operator_id.begin(), operator_id.end(),
                           [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; }) &&
               operator_id != "." && operator_id != "..",
           "operator id '" + operator_id + "' is not a safe directory name");
  const std::string base =
      (std::filesystem::path(directory_) / operator_id / ("subtask-" + std::to_string(subtask))).string();
  std::lock_guard<std::mutex> lock(mutex_);
  std::string path = base;
  for (int copy = 2; open_paths_.count(path) > 0; ++copy) {
    if (!temporary_) {
      throw UserError("the state directory '" + base +
                      "' is in use by another running pipeline: give each pipeline its own "
                      "state_dir");
    }
    path = base + "." + std::to_string(copy);
  }
  open_paths_.insert(path);
  return path;
}

void RocksDbResources::ReleasePath(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  open_paths_.erase(path);
}

}  // namespace millstream
