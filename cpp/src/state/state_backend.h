// Keyed state of one operator subtask: named column families of byte keys -> byte values,
// ordered bytewise. Two implementations with the same semantics and one conformance suite:
// memory (ordered maps) and rocksdb (one DB per subtask, a column family per state).
//
// Keys follow DESIGN.md: [key_group u16 BE][key bytes][namespace bytes]. Writes are buffered
// and applied by Commit() (one rocksdb::WriteBatch per input batch); Get and Scan see the
// buffered writes too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace millstream {

// Entries of one column family in key order. key() and value() are valid until the next call to
// Next() or the next write to the backend. Writing while an iterator is open is allowed (e.g.
// deleting the windows a scan fires): the iterator then goes on from the first key after its
// current one, seeing the state as it is then. The iterator must not outlive its backend.
class StateIterator {
 public:
  virtual ~StateIterator() = default;
  virtual bool Valid() const = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual void Next() = 0;
};

class StateBackend {
 public:
  virtual ~StateBackend() = default;
  // Returns a handle for the named column family, creating it when new.
  virtual int ColumnFamily(const std::string& name) = 0;
  virtual bool Get(int cf, std::string_view key, std::string* value) = 0;
  // Get of many keys at once: calls found(i, value) for each keys[i] that is there, in index
  // order (`value` is valid during the call only). RocksDB serves it faster than one Get each
  // (one lookup of the memtables and files per block of keys, sorted).
  virtual void MultiGet(int cf, const std::vector<std::string>& keys,
                        const std::function<void(size_t, std::string_view)>& found) {
    std::string value;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (Get(cf, keys[i], &value)) found(i, value);
    }
  }
  virtual void Put(int cf, std::string_view key, std::string_view value) = 0;
  virtual void Delete(int cf, std::string_view key) = 0;
  // Applies the buffered writes.
  virtual void Commit() = 0;
  // Keys in [begin, end), in bytewise order; an empty `end` means no upper bound.
  virtual std::unique_ptr<StateIterator> Scan(int cf, std::string_view begin,
                                              std::string_view end) = 0;
  virtual std::string kind() const = 0;  // "memory" | "rocksdb"
  // Writes the committed state into `directory` (new, empty) so that
  // StateEnvironment::RestoreBackend can reopen it: RocksDB flushes and takes a
  // rocksdb::Checkpoint (hard links); the memory backend writes its maps in a compact form.
  // Throws UserError when the file system refuses.
  virtual void Checkpoint(const std::string& directory);
};

// The smallest key greater than every key that starts with `prefix`, as Scan's `end`: scans all
// keys with that prefix. Empty (no upper bound) when the prefix is empty or all 0xFF bytes.
inline std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xFF) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

struct StateOptions {
  std::string kind = "memory";   // "memory" | "rocksdb"
  std::string directory;         // rocksdb: where the DBs live (a temp dir when empty)
  int64_t cache_bytes = 256ll << 20;  // rocksdb block cache + write buffers, per run
};

}  // namespace millstream
