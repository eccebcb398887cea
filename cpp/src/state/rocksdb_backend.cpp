#include "state/rocksdb_backend.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include "core/error.h"
#include "core/key_groups.h"
#include "core/snapshot.h"

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
  // Commit() writes in key order; with a hint per key group, each memtable insert continues the
  // search from the previous insert's place in the skiplist instead of from its top.
  options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(2));
  options.level_compaction_dynamic_level_bytes = true;  // less space amplification
  options.max_background_jobs = 2;       // the machines are small; the pool is process-wide
  options.bytes_per_sync = 1 << 20;
  options.max_open_files = 256;          // many DBs per run: bound the file descriptors
  options.avoid_flush_during_shutdown = true;  // the working DB is scratch (see the header)
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  options.stats_dump_period_sec = 0;
  // No compression: the working DB is scratch (WAL off; checkpoints will be the durable copy),
  // and when the state is beyond the block cache every point read of a cold key decompresses a
  // whole block read from the page cache for one small value. Measured on a running aggregation
  // 4x beyond its budget (benchmarks/warm_runs.py running 1 1 --state rocksdb --state-memory 16MB
  // --rows 2000000): LZ4 and 16 KB blocks 12.9 s, no compression 9.6 s, and 4 KB blocks 8.3 s.
  options.compression = rocksdb::kNoCompression;

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
  // 4 KB (RocksDB's default): a point read beyond the cache copies and searches one small block;
  // the scans that fire windows read few keys each. 16 KB was no faster for them
  // (benchmarks/cpp/windows_bench.cpp, 4 MB hot budget: 4 KB 0.17-0.29 M rows/s, 16 KB 0.16-0.25 M).
  table.block_size = 4 * 1024;
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

// Links the SST files of the RocksDB checkpoint `source` into `target` (new) and copies the
// rest (CURRENT, MANIFEST, OPTIONS: small, and a DB opened there may write to them).
void LinkCheckpoint(const std::string& source, const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(target, error);
  if (error) throw UserError("cannot create the state directory '" + target + "': " + error.message());
  if (!fs::exists(fs::path(source) / "CURRENT", error)) {
    throw UserError("the state checkpoint '" + source +
                    "' is missing or incomplete (no CURRENT file): restore from an earlier "
                    "complete checkpoint");
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(source, error)) {
    const fs::path& from = entry.path();
    const std::string to = (fs::path(target) / from.filename()).string();
    if (from.extension() == ".sst") {
      LinkOrCopyFile(from.string(), to);
    } else {
      fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
      if (error) throw UserError("cannot copy " + from.string() + " to " + to + ": " + error.message());
    }
  }
  if (error) throw UserError("cannot list the state checkpoint '" + source + "': " + error.message());
}

std::string KeyGroupKey(int key_group) {
  std::string key;
  AppendKeyGroup(key_group, &key);
  return key;
}

// A scan of a DB that was never opened (nothing was written).
class EmptyIterator final : public StateIterator {
 public:
  bool Valid() const override { return false; }
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  void Next() override {}
};

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
    return iterator_->Valid();  // iterate_upper_bound ends it at `end`
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
    backend_->Commit();  // the iterator sees the buffered writes
    NoPerfCounters();
    read_options_ = backend_->read_options_;
    if (!end_.empty()) read_options_.iterate_upper_bound = &upper_bound_;
    rocksdb::ColumnFamilyHandle* family = backend_->handle(cf_);  // opens the DB
    iterator_.reset(backend_->db_->NewIterator(read_options_, family));
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
    : resources_(std::move(resources)) {
  path_ = resources_->ClaimPath(operator_id, subtask);
  try {
    std::error_code error;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), error);
    if (error) {
      throw UserError("cannot create the state directory '" +
                      std::filesystem::path(path_).parent_path().string() + "': " + error.message());
    }
    LockPath();  // before clearing: the DB there may be another process's, in use
    ClearOldDb(path_);
  } catch (...) {
    UnlockPath();
    resources_->ReleasePath(path_);
    throw;
  }
  options_ = StateDbOptions(*resources_);
  family_names_.push_back(rocksdb::kDefaultColumnFamilyName);
  handle_of_name_.emplace(rocksdb::kDefaultColumnFamilyName, 0);
  write_options_.disableWAL = true;
}

RocksDbBackend::RocksDbBackend(std::shared_ptr<RocksDbResources> resources,
                               const std::string& operator_id, int subtask,
                               const std::vector<std::string>& checkpoints, int first_key_group,
                               int end_key_group)
    : RocksDbBackend(std::move(resources), operator_id, subtask) {
  if (checkpoints.empty()) return;
  LinkCheckpoint(checkpoints[0], path_);
  OpenExisting(checkpoints[0]);
  ClipToKeyGroups(first_key_group, end_key_group);
  for (size_t i = 1; i < checkpoints.size(); ++i) {
    CopyKeyGroups(checkpoints[i], first_key_group, end_key_group);
  }
}

void RocksDbBackend::OpenExisting(const std::string& source) {
  std::vector<std::string> names;
  rocksdb::Status status = rocksdb::DB::ListColumnFamilies(options_, path_, &names);
  if (!status.ok()) {
    throw UserError("cannot read the state checkpoint '" + source + "': " + status.ToString() +
                    ": restore from an earlier complete checkpoint");
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(options_));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> opened;
  status = rocksdb::DB::Open(options_, path_, descriptors, &opened, &db_);
  if (!status.ok()) {
    db_ = nullptr;
    throw UserError("cannot open the state checkpoint '" + source + "' (linked at '" + path_ +
                    "'): " + status.ToString() + ": restore from an earlier complete checkpoint");
  }
  family_names_.clear();
  handle_of_name_.clear();
  handles_.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == rocksdb::kDefaultColumnFamilyName && i != 0) {
      std::swap(names[0], names[i]);
      std::swap(opened[0], opened[i]);
    }
  }
  MS_CHECK(!names.empty() && names[0] == rocksdb::kDefaultColumnFamilyName,
           "a rocksdb checkpoint without its default column family");
  // Handle 0 is the DB's own default family handle, as Open() makes it (the destructor keeps it).
  db_->DestroyColumnFamilyHandle(opened[0]);
  opened[0] = db_->DefaultColumnFamily();
  for (size_t i = 0; i < names.size(); ++i) {
    family_names_.push_back(names[i]);
    handles_.push_back(opened[i]);
    handle_of_name_.emplace(names[i], static_cast<int>(i));
  }
}

void RocksDbBackend::ClipToKeyGroups(int first_key_group, int end_key_group) {
  NoPerfCounters();
  for (size_t cf = 0; cf < handles_.size(); ++cf) {
    if (first_key_group > 0) {
      Check(db_->DeleteRange(write_options_, handles_[cf], rocksdb::Slice(),
                             KeyGroupKey(first_key_group)),
            "hiding the key groups of other subtasks");
    }
    if (end_key_group < kMaxKeyGroups) {
      // [end, 0xFFFF) by one range; the last key group's keys (any bytes after 0xFFFF) one by one.
      const std::string last = KeyGroupKey(kMaxKeyGroups - 1);
      Check(db_->DeleteRange(write_options_, handles_[cf], KeyGroupKey(end_key_group), last),
            "hiding the key groups of other subtasks");
      std::vector<std::string> keys;
      for (auto it = Scan(static_cast<int>(cf), last, std::string_view()); it->Valid(); it->Next()) {
        keys.emplace_back(it->key());
      }
      for (const std::string& key : keys) Delete(static_cast<int>(cf), key);
      Commit();
    }
  }
}

void RocksDbBackend::CopyKeyGroups(const std::string& source, int first_key_group,
                                   int end_key_group) {
  // The checkpoint is linked beside the working DB and opened there (never in place: opening
  // a DB writes to its directory, and a checkpoint is immutable).
  std::vector<std::string> names;
  const std::string linked = path_ + ".restore";
  std::error_code ignored;
  std::filesystem::remove_all(linked, ignored);
  LinkCheckpoint(source, linked);
  rocksdb::DB* other = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> opened;
  try {
    rocksdb::Status status = rocksdb::DB::ListColumnFamilies(options_, linked, &names);
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(options_));
    }
    if (status.ok()) status = rocksdb::DB::Open(options_, linked, descriptors, &opened, &other);
    if (!status.ok()) {
      throw UserError("cannot open the state checkpoint '" + source + "': " + status.ToString() +
                      ": restore from an earlier complete checkpoint");
    }
    const std::string begin = KeyGroupKey(first_key_group);
    const std::string end = end_key_group < kMaxKeyGroups ? KeyGroupKey(end_key_group) : "";
    const rocksdb::Slice upper_bound(end);
    constexpr size_t kBatchBytes = 4 << 20;
    for (size_t i = 0; i < names.size(); ++i) {
      const int cf = ColumnFamily(names[i]);
      rocksdb::ReadOptions read;
      read.fill_cache = false;  // read once
      if (!end.empty()) read.iterate_upper_bound = &upper_bound;
      std::unique_ptr<rocksdb::Iterator> it(other->NewIterator(read, opened[i]));
      rocksdb::WriteBatch batch;
      for (it->Seek(begin); it->Valid(); it->Next()) {
        Check(batch.Put(handle(cf), it->key(), it->value()), "copying restored state");
        if (batch.GetDataSize() >= kBatchBytes) {
          Check(db_->Write(write_options_, &batch), "copying restored state");
          batch.Clear();
        }
      }
      Check(it->status(), "reading a state checkpoint");
      Check(db_->Write(write_options_, &batch), "copying restored state");
    }
  } catch (...) {
    for (rocksdb::ColumnFamilyHandle* handle : opened) other->DestroyColumnFamilyHandle(handle);
    delete other;
    std::filesystem::remove_all(linked, ignored);
    throw;
  }
  for (rocksdb::ColumnFamilyHandle* handle : opened) other->DestroyColumnFamilyHandle(handle);
  delete other;
  std::filesystem::remove_all(linked, ignored);
}

void RocksDbBackend::Checkpoint(const std::string& directory) {
  Commit();
  Open();  // a DB never written is checkpointed empty, with its column families
  NoPerfCounters();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  Check(db_->Flush(flush, handles_), "flushing state for a checkpoint");
  std::error_code error;
  if (std::filesystem::exists(directory, error)) {
    std::filesystem::remove(directory, error);  // RocksDB makes it; it must be new (and empty)
    if (error) {
      throw UserError("the checkpoint directory '" + directory + "' is not empty: " + error.message());
    }
  }
  rocksdb::Checkpoint* checkpoint = nullptr;
  Check(rocksdb::Checkpoint::Create(db_, &checkpoint), "preparing a state checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> owned(checkpoint);
  // Everything was flushed just now: no log to copy (UINT64_MAX: never flush again).
  const rocksdb::Status status = owned->CreateCheckpoint(directory, UINT64_MAX);
  if (!status.ok()) {
    throw UserError("cannot write the state checkpoint '" + directory + "': " + status.ToString());
  }
  SyncPath(directory);
}

void RocksDbBackend::LockPath() {
  // The DB opens later (Open), and RocksDB's own LOCK file only then: until it does, this lock
  // keeps another pipeline (in this process or another) off the same directory.
  const std::string lock_path = path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    throw UserError("cannot create '" + lock_path + "': " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw UserError("the state directory '" + path_ +
                    "' is in use by another running pipeline: give each pipeline its own state_dir");
  }
}

void RocksDbBackend::UnlockPath() {
  if (lock_fd_ < 0) return;
  ::unlink((path_ + ".lock").c_str());  // while still holding the lock
  ::close(lock_fd_);
  lock_fd_ = -1;
}

void RocksDbBackend::Open() {
  if (db_ != nullptr) return;
  const rocksdb::Status status = rocksdb::DB::Open(options_, path_, &db_);
  if (!status.ok()) {
    db_ = nullptr;
    throw UserError("cannot open the rocksdb state at '" + path_ + "': " + status.ToString());
  }
  handles_.push_back(db_->DefaultColumnFamily());
  for (size_t cf = 1; cf < family_names_.size(); ++cf) CreateFamily(family_names_[cf]);
}

void RocksDbBackend::CreateFamily(const std::string& name) {
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  Check(db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(options_), name, &handle),
        "creating a column family");
  handles_.push_back(handle);
}

RocksDbBackend::~RocksDbBackend() {
  MS_CHECK(open_iterators_.empty(), "a state iterator outlived its rocksdb backend");
  if (db_ != nullptr) {
    for (size_t i = 1; i < handles_.size(); ++i) db_->DestroyColumnFamilyHandle(handles_[i]);
    db_->Close();  // its status: nothing to do about a failed close of scratch state
    delete db_;
  }
  // The working DB is scratch (no WAL; the next run clears it before opening: ClearOldDb), so
  // it goes when the run does: a bounded run left tens of MB per subtask in state_dir. The
  // operator's directory goes with its last subtask; state_dir itself is the user's.
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
  UnlockPath();
  if (!resources_->temporary()) std::filesystem::remove(std::filesystem::path(path_).parent_path(), ignored);
  resources_->ReleasePath(path_);
}

void RocksDbBackend::NoPerfCounters() {
  // RocksDB counts key comparisons and more per thread by default, through a thread-local
  // context of its shared library: ~10% of the time of memtable inserts. Nothing reads them.
  // Per call, since the operators' threads are the runtime's.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
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

void RocksDbBackend::CheckFamily(int cf) const {
  MS_CHECK(cf >= 0 && cf < static_cast<int>(family_names_.size()),
           "unknown column family handle " + std::to_string(cf));
}

rocksdb::ColumnFamilyHandle* RocksDbBackend::handle(int cf) {
  CheckFamily(cf);
  Open();
  return handles_[cf];
}

int RocksDbBackend::ColumnFamily(const std::string& name) {
  auto found = handle_of_name_.find(name);
  if (found != handle_of_name_.end()) return found->second;
  family_names_.push_back(name);
  if (db_ != nullptr) CreateFamily(name);
  const int cf = static_cast<int>(family_names_.size()) - 1;
  handle_of_name_.emplace(name, cf);
  return cf;
}

bool RocksDbBackend::Get(int cf, std::string_view key, std::string* value) {
  CheckFamily(cf);
  if (NothingWritten()) return false;
  Commit();
  NoPerfCounters();
  pinned_.Reset();
  rocksdb::ColumnFamilyHandle* family = handle(cf);
  const rocksdb::Status status =
      db_->Get(read_options_, family, rocksdb::Slice(key.data(), key.size()), &pinned_);
  if (status.IsNotFound()) return false;
  Check(status, "reading state");
  value->assign(pinned_.data(), pinned_.size());
  return true;
}

void RocksDbBackend::MultiGet(int cf, const std::vector<std::string>& keys,
                              const std::function<void(size_t, std::string_view)>& found) {
  // In chunks: the values of a chunk stay pinned (blocks held in the cache) until it is done.
  constexpr size_t kChunk = 1024;
  CheckFamily(cf);
  if (NothingWritten()) return;
  rocksdb::ColumnFamilyHandle* family = handle(cf);
  Commit();
  NoPerfCounters();
  for (size_t first = 0; first < keys.size(); first += kChunk) {
    const size_t n = std::min(kChunk, keys.size() - first);
    multi_keys_.clear();
    for (size_t i = 0; i < n; ++i) {
      multi_keys_.emplace_back(keys[first + i].data(), keys[first + i].size());
    }
    multi_values_.resize(n);
    multi_statuses_.resize(n);
    db_->MultiGet(read_options_, family, n, multi_keys_.data(), multi_values_.data(),
                  multi_statuses_.data(), /*sorted_input=*/false);
    for (size_t i = 0; i < n; ++i) {
      if (multi_statuses_[i].IsNotFound()) continue;
      Check(multi_statuses_[i], "reading state");
      found(first + i, std::string_view(multi_values_[i].data(), multi_values_[i].size()));
    }
    for (size_t i = 0; i < n; ++i) multi_values_[i].Reset();
  }
}

void RocksDbBackend::Put(int cf, std::string_view key, std::string_view value) {
  if (!open_iterators_.empty()) DetachIterators();
  CheckFamily(cf);
  pending_.push_back(PendingWrite{static_cast<uint32_t>(cf), static_cast<uint32_t>(key.size()),
                                  pending_bytes_.size(), static_cast<uint32_t>(value.size()), false});
  pending_bytes_.append(key);
  pending_bytes_.append(value);
}

void RocksDbBackend::Delete(int cf, std::string_view key) {
  if (!open_iterators_.empty()) DetachIterators();
  CheckFamily(cf);
  pending_.push_back(PendingWrite{static_cast<uint32_t>(cf), static_cast<uint32_t>(key.size()),
                                  pending_bytes_.size(), 0, true});
  pending_bytes_.append(key);
}

void RocksDbBackend::Commit() {
  if (pending_.empty()) return;
  Open();
  NoPerfCounters();
  if (!open_iterators_.empty()) DetachIterators();
  auto key_of = [this](const PendingWrite& write) {
    return std::string_view(pending_bytes_.data() + write.key_offset, write.key_size);
  };
  // By family and key; of several writes of one key (in order: the sort is stable) the last.
  std::stable_sort(pending_.begin(), pending_.end(),
                   [&](const PendingWrite& a, const PendingWrite& b) {
                     return a.cf != b.cf ? a.cf < b.cf : key_of(a) < key_of(b);
                   });
  batch_.Clear();
  for (size_t i = 0; i < pending_.size(); ++i) {
    const PendingWrite& write = pending_[i];
    if (i + 1 < pending_.size() && pending_[i + 1].cf == write.cf &&
        key_of(pending_[i + 1]) == key_of(write)) {
      continue;  // overwritten
    }
    const std::string_view key = key_of(write);
    const rocksdb::Slice key_slice(key.data(), key.size());
    if (write.is_delete) {
      Check(batch_.Delete(handles_[write.cf], key_slice), "buffering a state delete");
    } else {
      Check(batch_.Put(handles_[write.cf], key_slice,
                       rocksdb::Slice(key.data() + key.size(), write.value_size)),
            "buffering a state write");
    }
  }
  pending_.clear();
  pending_bytes_.clear();
  Check(db_->Write(write_options_, &batch_), "writing state");
  batch_.Clear();
}

std::unique_ptr<StateIterator> RocksDbBackend::Scan(int cf, std::string_view begin,
                                                    std::string_view end) {
  CheckFamily(cf);
  if (NothingWritten()) return std::make_unique<EmptyIterator>();
  return std::make_unique<Iterator>(this, cf, begin, end);
}

void RocksDbBackend::DetachIterators() {
  for (Iterator* iterator : open_iterators_) iterator->Detach();
}

std::string RocksDbBackend::Property(int cf, const std::string& name) {
  Open();
  std::string value;
  const bool found = cf < 0 ? db_->GetProperty(name, &value)
                            : db_->GetProperty(handle(cf), name, &value);
  return found ? value : std::string();
}

}  // namespace millstream
