#include "state/state_factory.h"

#include <map>
#include <mutex>
#include <tuple>

#include "core/error.h"
#include "core/key_groups.h"
#include "state/memory_backend.h"
#include "state/rocksdb_backend.h"
#include "state/rocksdb_resources.h"

namespace millstream {

namespace {

constexpr int64_t kMinCacheBytes = 1 << 20;

void CheckOptions(const StateOptions& options) {
  if (options.kind != "memory" && options.kind != "rocksdb") {
    throw UserError("unknown state backend '" + options.kind + "': use \"memory\" or \"rocksdb\"");
  }
  if (options.kind == "rocksdb" && options.cache_bytes < kMinCacheBytes) {
    throw UserError("the rocksdb state cache of " + std::to_string(options.cache_bytes) +
                    " bytes is too small: give it at least 1 MiB");
  }
}

// The RocksDB resources of the live backends made by MakeStateBackend, by (directory, cache).
// Entries are weak: resources go when their last backend goes (and with them a temp directory).
class SharedResources {
 public:
  std::shared_ptr<RocksDbResources> Get(const StateOptions& options) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& entry = entries_[{options.directory, options.cache_bytes}];
    std::shared_ptr<RocksDbResources> resources = entry.lock();
    if (!resources) {
      resources = std::make_shared<RocksDbResources>(options.directory, options.cache_bytes);
      entry = resources;
    }
    return resources;
  }

 private:
  std::mutex mutex_;
  std::map<std::tuple<std::string, int64_t>, std::weak_ptr<RocksDbResources>> entries_;
};

SharedResources& Shared() {
  static SharedResources* shared = new SharedResources();  // never destroyed: no exit-order issue
  return *shared;
}

}  // namespace

std::shared_ptr<StateEnvironment> StateEnvironment::Create(const StateOptions& options) {
  CheckOptions(options);
  std::shared_ptr<RocksDbResources> rocksdb;
  if (options.kind == "rocksdb") {
    rocksdb = std::make_shared<RocksDbResources>(options.directory, options.cache_bytes);
  }
  return std::shared_ptr<StateEnvironment>(new StateEnvironment(options, std::move(rocksdb)));
}

StateEnvironment::StateEnvironment(StateOptions options, std::shared_ptr<RocksDbResources> rocksdb)
    : options_(std::move(options)), rocksdb_(std::move(rocksdb)) {}

StateEnvironment::~StateEnvironment() = default;

std::string StateEnvironment::directory() const {
  return rocksdb_ ? rocksdb_->directory() : std::string();
}

std::unique_ptr<StateBackend> StateEnvironment::MakeBackend(const std::string& operator_id,
                                                            int subtask) {
  if (!rocksdb_) return std::make_unique<MemoryBackend>();
  return std::make_unique<RocksDbBackend>(rocksdb_, operator_id, subtask);
}

std::unique_ptr<StateBackend> StateEnvironment::RestoreBackend(
    const std::string& operator_id, int subtask, const std::vector<std::string>& checkpoints,
    int first_key_group, int end_key_group) {
  MS_CHECK(0 <= first_key_group && first_key_group <= end_key_group &&
               end_key_group <= kMaxKeyGroups,
           "a key-group range out of bounds");
  if (!rocksdb_) {
    auto backend = std::make_unique<MemoryBackend>();
    for (const std::string& checkpoint : checkpoints) {
      backend->LoadCheckpoint(checkpoint, first_key_group, end_key_group);
    }
    return backend;
  }
  return std::make_unique<RocksDbBackend>(rocksdb_, operator_id, subtask, checkpoints,
                                          first_key_group, end_key_group);
}

std::unique_ptr<StateBackend> MakeStateBackend(const StateOptions& options,
                                               const std::string& operator_id, int subtask) {
  CheckOptions(options);
  if (options.kind == "memory") return std::make_unique<MemoryBackend>();
  return std::make_unique<RocksDbBackend>(Shared().Get(options), operator_id, subtask);
}

}  // namespace millstream
