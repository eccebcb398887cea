// The in-memory state backend: one ordered map per column family. Writes are applied at once
// (there is no rollback, so buffering them until Commit() would change nothing a caller can see).
//
// Example:
//   MemoryBackend state;
//   int windows = state.ColumnFamily("windows");
//   state.Put(windows, key, value);
//   for (auto it = state.Scan(windows, prefix, PrefixEnd(prefix)); it->Valid(); it->Next()) ...
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "state/state_backend.h"

namespace millstream {

class MemoryBackend final : public StateBackend {
 public:
  MemoryBackend();
  ~MemoryBackend() override;

  int ColumnFamily(const std::string& name) override;
  bool Get(int cf, std::string_view key, std::string* value) override;
  void Put(int cf, std::string_view key, std::string_view value) override;
  void Delete(int cf, std::string_view key) override;
  void Commit() override {}
  std::unique_ptr<StateIterator> Scan(int cf, std::string_view begin,
                                      std::string_view end) override;
  std::string kind() const override { return "memory"; }
  // One entry file (state/entry_file.h) per column family, cf-<n>, in key order, and FAMILIES
  // naming them: the whole state, a sorted run each, checksummed.
  void Checkpoint(const std::string& directory) override;
  // Adds the entries of key groups [first_key_group, end_key_group) of a Checkpoint directory
  // (several directories, when rescaled, each add their part). Throws UserError naming the file
  // when it is missing or damaged.
  void LoadCheckpoint(const std::string& directory, int first_key_group, int end_key_group);

  using Map = std::map<std::string, std::string, std::less<>>;
  class Iterator;

 private:
  Map& family(int cf);
  // Before a write to `cf`, open iterators of `cf` copy their current entry, since the write may
  // free it; they re-seek past it on Next().
  void DetachIterators(int cf);

  std::deque<Map> families_;
  std::unordered_map<std::string, int> handles_;
  std::vector<Iterator*> open_iterators_;
};

}  // namespace millstream
