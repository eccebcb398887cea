// The RocksDB state backend: one DB per operator subtask, one column family per state.
//
// Writes are buffered and applied by Commit() in one rocksdb::WriteBatch (WAL off: state is made
// durable by checkpoints, not by the log), sorted by column family and key: RocksDB then inserts
// them into its memtables in order, each insert starting where the last one ended. (Unsorted,
// as a WriteBatchWithIndex applies them, each insert searched a large memtable from its top and
// missed the CPU cache at every level; the index itself cost as much again.) A read (Get,
// MultiGet, Scan, an iterator's Next after a write) applies the buffered writes first, so it
// sees them; the operators read before they write back, so that is rarely more than one write
// per input batch.
// Memory is bounded by the run's shared RocksDbResources (block cache + write buffer budget);
// the state itself may be far larger than memory.
//
// Example:
//   auto resources = std::make_shared<RocksDbResources>("", 64 << 20);
//   RocksDbBackend state(resources, "op3", /*subtask=*/0);
//   int windows = state.ColumnFamily("windows");
//   state.Put(windows, key, value);   // visible to Get / Scan at once
//   state.Commit();                   // written to the DB
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "state/rocksdb_resources.h"
#include "state/state_backend.h"

namespace millstream {

class RocksDbBackend final : public StateBackend {
 public:
  // A new, empty DB at resources->ClaimPath(operator_id, subtask), locked at once (a file lock
  // on <path>.lock) and opened on its first write. A DB left there by an earlier run is deleted
  // first: the working DB is scratch (restoring state is the checkpoints' job). Throws UserError
  // when another pipeline uses the path or it holds something that is not a RocksDB DB, and
  // (from the first write) when the DB cannot be opened.
  RocksDbBackend(std::shared_ptr<RocksDbResources> resources, const std::string& operator_id,
                 int subtask);
  // A DB holding the entries of key groups [first_key_group, end_key_group) of the DBs that
  // Checkpoint wrote into `checkpoints`. The first one is reopened in place: its SST files are
  // hard-linked into the working directory (the small MANIFEST, CURRENT and OPTIONS copied) and
  // the key groups outside the range hidden by two range deletions, so that the time to restore
  // does not grow with the state. Each further checkpoint (a rescale to fewer subtasks) is
  // linked and opened beside it and its range copied in (WriteBatch). Throws UserError naming
  // the checkpoint when it cannot be read.
  RocksDbBackend(std::shared_ptr<RocksDbResources> resources, const std::string& operator_id,
                 int subtask, const std::vector<std::string>& checkpoints, int first_key_group,
                 int end_key_group);
  ~RocksDbBackend() override;

  int ColumnFamily(const std::string& name) override;
  bool Get(int cf, std::string_view key, std::string* value) override;
  void MultiGet(int cf, const std::vector<std::string>& keys,
                const std::function<void(size_t, std::string_view)>& found) override;
  void Put(int cf, std::string_view key, std::string_view value) override;
  void Delete(int cf, std::string_view key) override;
  void Commit() override;
  std::unique_ptr<StateIterator> Scan(int cf, std::string_view begin,
                                      std::string_view end) override;
  std::string kind() const override { return "rocksdb"; }
  // Commits, flushes every memtable (the WAL is off: unflushed writes would be lost) and takes a
  // rocksdb::Checkpoint into `directory`: the SST files hard-linked, so a checkpoint costs the
  // flush and a few small files, and SSTs unchanged since the last one are shared with it.
  void Checkpoint(const std::string& directory) override;

  const std::string& path() const { return path_; }
  // RocksDB's own view, for tests and metrics: a DB property of column family `cf`
  // (e.g. "rocksdb.estimate-num-keys"), or of the DB when cf < 0.
  std::string Property(int cf, const std::string& name);

  class Iterator;

 private:
  // The DB is opened on first need (a write reaching Commit, a read or scan after one, a
  // property): keyed state that fits its hot budget never opens it (~5-10 ms a DB, with
  // its files and fsyncs). The directory is checked and cleared at construction all the same.
  void Open();
  // Opens the DB that RestoreInto linked into path_, with the column families it holds.
  void OpenExisting(const std::string& source);
  // Hides the keys outside [first_key_group, end_key_group) in every column family.
  void ClipToKeyGroups(int first_key_group, int end_key_group);
  // Copies the key groups [first_key_group, end_key_group) of the checkpoint `source` in.
  void CopyKeyGroups(const std::string& source, int first_key_group, int end_key_group);
  void LockPath();    // flock of <path>.lock; throws UserError when another pipeline holds it
  void UnlockPath();
  void CreateFamily(const std::string& name);
  void CheckFamily(int cf) const;
  // No write was ever buffered, so no DB was opened: every read finds nothing.
  bool NothingWritten() const { return db_ == nullptr && pending_.empty(); }
  rocksdb::ColumnFamilyHandle* handle(int cf);  // opens the DB
  // Before any write, open iterators copy their current entry and drop their RocksDB iterator
  // (which would not see the write); the next Next() applies the writes and seeks again.
  void DetachIterators();
  static void NoPerfCounters();  // for this thread
  void Check(const rocksdb::Status& status, const char* what) const;

  std::shared_ptr<RocksDbResources> resources_;
  std::string path_;
  int lock_fd_ = -1;
  rocksdb::Options options_;
  rocksdb::DB* db_ = nullptr;
  std::vector<std::string> family_names_;  // by handle; created in the DB when it opens
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // by handle, once open
  std::unordered_map<std::string, int> handle_of_name_;
  // The buffered writes: keys and values in pending_bytes_, applied sorted by Commit().
  struct PendingWrite {
    uint32_t cf;
    uint32_t key_size;
    uint64_t key_offset;  // the value follows the key
    uint32_t value_size;
    bool is_delete;
  };
  std::string pending_bytes_;
  std::vector<PendingWrite> pending_;
  rocksdb::WriteBatch batch_;
  rocksdb::WriteOptions write_options_;
  rocksdb::ReadOptions read_options_;
  std::vector<Iterator*> open_iterators_;
  rocksdb::PinnableSlice pinned_;  // Get's scratch
  // MultiGet's scratch, per key of a chunk.
  std::vector<rocksdb::Slice> multi_keys_;
  std::vector<rocksdb::PinnableSlice> multi_values_;
  std::vector<rocksdb::Status> multi_statuses_;
};

}  // namespace millstream
