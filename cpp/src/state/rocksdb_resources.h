// What the RocksDB backends of one run share: the state directory (a temp directory when none
// was given), one block cache and one write-buffer budget, so the run's RocksDB memory stays
// within StateOptions::cache_bytes however many operators and subtasks it has.
//
// Every RocksDbBackend holds a shared_ptr to it: the temp directory is removed when the last
// backend (and the StateEnvironment) is destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace rocksdb {
class Cache;
class WriteBufferManager;
}  // namespace rocksdb

namespace millstream {

class RocksDbResources {
 public:
  // `directory` empty: a new temp directory. Throws UserError when the directory cannot be made.
  RocksDbResources(const std::string& directory, int64_t cache_bytes);
  ~RocksDbResources();
  RocksDbResources(const RocksDbResources&) = delete;
  RocksDbResources& operator=(const RocksDbResources&) = delete;

  // Reserves the DB directory of a subtask, <directory>/<operator_id>/subtask-<n>, for one
  // backend. A path in use by another live backend is a UserError for a user directory (two
  // runs on one state directory); in a temp directory a fresh sibling path is used instead.
  std::string ClaimPath(const std::string& operator_id, int subtask);
  void ReleasePath(const std::string& path);

  const std::shared_ptr<rocksdb::Cache>& block_cache() const { return block_cache_; }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffers() const { return write_buffers_; }
  int64_t cache_bytes() const { return cache_bytes_; }
  // Bytes for one memtable of one column family.
  int64_t memtable_bytes() const;
  const std::string& directory() const { return directory_; }
  bool temporary() const { return temporary_; }

 private:
  std::string directory_;
  bool temporary_;
  int64_t cache_bytes_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::mutex mutex_;  // backends are made and destroyed on several threads
  std::set<std::string> open_paths_;
};

}  // namespace millstream
