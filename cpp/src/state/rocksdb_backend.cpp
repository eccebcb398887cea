#include "state/rocksdb_backend.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include "core/error.h"

namespace millstream {

namespace {

// Options for keyed state: many small writes (accumulators overwritten per batch), point reads,
// and scans over a key's prefix. Memory comes from the run's shared budget.
rocksdb::Options StateDbOptions(const RocksDbResources& resources) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_manager = resources.write_buffers();
  options.write_buffer_size = static_cast<size_t>(resources.memtable_bytes());
  options.max_write_buffer_number = 4;  // keep writing while a flush runs
  // A Bloom filter per memtable too: most Gets of new keys and windows miss every memtable.
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.level_compaction_dynamic_level_bytes = true;  // less space amplification
  options.max_background_jobs = 2;       // the machines are small; the pool is process-wide
  options.bytes_per_sync = 1 << 20;
  options.max_open_files = 256;          // many DBs per run: bound the file descriptors
  options.avoid_flush_during_shutdown = true;  // the working DB is scratch (see the header)
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  options.stats_dump_period_sec = 0;
  const auto supported = rocksdb::GetSupportedCompressions();
  options.compression =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end()
          ? rocksdb::kLZ4Compression
          : rocksdb::kNoCompression;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = resources.block_cache();
  table.cache_index_and_filter_blocks = true;  // inside the budget, not beside it
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Partitioned index and filters: a cache smaller than the state evicts and re-reads whole
  // filter blocks (hundreds of KB per file, checksummed each time: measured 10x slower Gets with
  // an 8 MB cache); partitions of 4 KB are read as needed, the small top level stays pinned.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  // Whole-key Bloom filters: Get of a key that is not there (a new window, a new key) mostly
  // skips the files. Scans are by prefixes of varying length, so no prefix extractor.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.optimize_filters_for_memory = true;
  table.block_size = 16 * 1024;  // scans read neighbouring keys
  table.format_version = 5;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// A previous run's DB at `path` is removed; anything else there is the user's and stays.
void ClearOldDb(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::exists(path, error)) return;
  const bool is_db = fs::exists(fs::path(path) / "CURRENT", error) ||
                     fs::exists(fs::path(path) / "IDENTITY", error);
  if (!is_db && !fs::is_empty(path, error)) {
    throw UserError("the state directory '" + path +
                    "' holds files that are not millstream state: choose an empty state_dir");
  }
  fs::remove_all(path, error);
  if (error) {
    throw UserError("cannot clear the old state at '" + path + "': " + error.message());
  }
}

}  // namespace

class RocksDbBackend::Iterator final : public StateIterator {
 public:
  Iterator(RocksDbBackend* backend, int cf, std::string_view begin, std::string_view end)
      : backend_(backend), cf_(cf), end_(end), upper_bound_(end_) {
    Open();
    iterator_->Seek(rocksdb::Slice(begin.data(), begin.size()));
    CheckStatus();
    backend_->open_iterators_.push_back(this);
  }
  ~Iterator() override {
    auto& open = backend_->open_iterators_;
    open.erase(std::find(open.begin(), open.end(), this));
  }

  bool Valid() const override {
    switch (state_) {
      case State::kDetached: return true;
      case State::kExhausted: return false;
      case State::kLive: break;
    }
    if (!iterator_->Valid()) return false;
    // The upper bound is also checked here: BaseDeltaIterator applies it to the DB side only.
    return end_.empty() || iterator_->key().compare(rocksdb::Slice(end_)) < 0;
  }
  std::string_view key() const override {
    if (state_ == State::kDetached) return saved_key_;
    const rocksdb::Slice key = iterator_->key();
    return {key.data(), key.size()};
  }
  std::string_view value() const override {
    if (state_ == State::kDetached) return saved_value_;
    const rocksdb::Slice value = iterator_->value();
    return {value.data(), value.size()};
  }
  void Next() override {
    if (state_ == State::kDetached) {
      Open();
      iterator_->Seek(saved_key_);
      if (iterator_->Valid() && iterator_->key() == rocksdb::Slice(saved_key_)) iterator_->Next();
      state_ = State::kLive;
    } else {
      iterator_->Next();
    }
    CheckStatus();
  }

  void Detach() {
    if (state_ != State::kLive) return;
    if (Valid()) {
      saved_key_.assign(key());
      saved_value_.assign(value());
      state_ = State::kDetached;
    } else {
      state_ = State::kExhausted;
    }
    iterator_.reset();
  }

 private:
  enum class State : uint8_t { kLive, kDetached, kExhausted };

  void Open() {
    read_options_ = backend_->read_options_;
    if (!end_.empty()) read_options_.iterate_upper_bound = &upper_bound_;
    rocksdb::ColumnFamilyHandle* handle = backend_->handle(cf_);
    rocksdb::Iterator* base = backend_->db_->NewIterator(read_options_, handle);
    iterator_.reset(backend_->batch_.NewIteratorWithBase(handle, base, &read_options_));
  }
  void CheckStatus() const { backend_->Check(iterator_->status(), "scanning state"); }

  RocksDbBackend* backend_;
  int cf_;
  std::string end_;
  rocksdb::Slice upper_bound_;  // points into end_
  rocksdb::ReadOptions read_options_;
  std::unique_ptr<rocksdb::Iterator> iterator_;
  State state_ = State::kLive;
  std::string saved_key_;
  std::string saved_value_;
};

RocksDbBackend::RocksDbBackend(std::shared_ptr<RocksDbResources> resources,
                               const std::string& operator_id, int subtask)
    : resources_(std::move(resources)),
      batch_(rocksdb::BytewiseComparator(), /*reserved_bytes=*/0, /*overwrite_key=*/true) {
  path_ = resources_->ClaimPath(operator_id, subtask);
  try {
    ClearOldDb(path_);
    std::error_code error;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), error);
    options_ = StateDbOptions(*resources_);
    const rocksdb::Status status = rocksdb::DB::Open(options_, path_, &db_);
    if (!status.ok()) {
      throw UserError("cannot open the rocksdb state at '" + path_ + "': " + status.ToString());
    }
  } catch (...) {
    resources_->ReleasePath(path_);
    throw;
  }
  handles_.push_back(db_->DefaultColumnFamily());
  handle_of_name_.emplace(rocksdb::kDefaultColumnFamilyName, 0);
  write_options_.disableWAL = true;
}

RocksDbBackend::~RocksDbBackend() {
  MS_CHECK(open_iterators_.empty(), "a state iterator outlived its rocksdb backend");
  for (size_t i = 1; i < handles_.size(); ++i) db_->DestroyColumnFamilyHandle(handles_[i]);
  db_->Close();  // its status: nothing to do about a failed close of scratch state
  delete db_;
  if (resources_->temporary()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  resources_->ReleasePath(path_);
}

void RocksDbBackend::Check(const rocksdb::Status& status, const char* what) const {
  if (status.ok()) return;
  if (status.IsIOError() || status.IsCorruption() || status.IsNoSpace()) {
    // The disk, not the program: say where, so that the user can free space or move state_dir.
    throw UserError(std::string(what) + " failed in the rocksdb state at '" + path_ +
                    "': " + status.ToString());
  }
  FailInternal(__FILE__, __LINE__, what, status.ToString());
}

rocksdb::ColumnFamilyHandle* RocksDbBackend::handle(int cf) const {
  MS_CHECK(cf >= 0 && cf < static_cast<int>(handles_.size()),
           "unknown column family handle " + std::to_string(cf));
  return handles_[cf];
}

int RocksDbBackend::ColumnFamily(const std::string& name) {
  auto found = handle_of_name_.find(name);
  if (found != handle_of_name_.end()) return found->second;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  Check(db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(options_), name, &handle),
        "creating a column family");
  handles_.push_back(handle);
  const int cf = static_cast<int>(handles_.size()) - 1;
  handle_of_name_.emplace(name, cf);
  return cf;
}

bool RocksDbBackend::Get(int cf, std::string_view key, std::string* value) {
  const rocksdb::Status status = batch_.GetFromBatchAndDB(
      db_, read_options_, handle(cf), rocksdb::Slice(key.data(), key.size()), value);
  if (status.IsNotFound()) return false;
  Check(status, "reading state");
  return true;
}

void RocksDbBackend::Put(int cf, std::string_view key, std::string_view value) {
  if (!open_iterators_.empty()) DetachIterators();
  Check(batch_.Put(handle(cf), rocksdb::Slice(key.data(), key.size()),
                   rocksdb::Slice(value.data(), value.size())),
        "buffering a state write");
}

void RocksDbBackend::Delete(int cf, std::string_view key) {
  if (!open_iterators_.empty()) DetachIterators();
  Check(batch_.Delete(handle(cf), rocksdb::Slice(key.data(), key.size())),
        "buffering a state delete");
}

void RocksDbBackend::Commit() {
  if (batch_.GetWriteBatch()->Count() == 0) return;
  if (!open_iterators_.empty()) DetachIterators();
  Check(db_->Write(write_options_, batch_.GetWriteBatch()), "writing state");
  batch_.Clear();
}

std::unique_ptr<StateIterator> RocksDbBackend::Scan(int cf, std::string_view begin,
                                                    std::string_view end) {
  return std::make_unique<Iterator>(this, cf, begin, end);
}

void RocksDbBackend::DetachIterators() {
  for (Iterator* iterator : open_iterators_) iterator->Detach();
}

std::string RocksDbBackend::Property(int cf, const std::string& name) {
  std::string value;
  const bool found = cf < 0 ? db_->GetProperty(name, &value)
                            : db_->GetProperty(handle(cf), name, &value);
  return found ? value : std::string();
}

}  // namespace millstream
