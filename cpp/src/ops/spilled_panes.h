// The groups of tumbling and sliding windows that were written back to the state backend
// (when the hot state outgrew its budget), with the layout of DESIGN.md:
//   "window_acc"   [key_group u16 BE][key bytes][pane end]  -> the accumulator row
//   "window_timer" [key_group u16 BE][pane end][key bytes]  -> the accumulator row again
// (the groups of a pane end, in one range per key group: reading a pane back to fire it is one
// scan; with the row only in "window_acc" it took a Get per group: sliding windows with a 4 MB
// hot budget ran at 0.11 M rows/s instead of 0.19 M, windows_bench)
// (times big-endian with the sign bit flipped: bytewise order is time order). They are counted
// per pane end and key group in memory, so reading a pane back scans only key groups that have
// some, and a key's row never asks the backend for a pane that has nothing there; a Bloom filter
// per pane end of the keys written there spares the question for most keys that have nothing.
//
// Reading a group back does not remove it: the operator keeps it hot and overwrites the copy
// when it writes the group back again (one Put instead of two Deletes and two Puts), or leaves
// it until its pane is dropped. While a group is hot, its copy here is stale, and the
// operator must prefer the hot group (ForEach yields both).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/growing_bloom_filter.h"
#include "state/state_backend.h"

namespace millstream {

class SpilledPanes {
 public:
  explicit SpilledPanes(StateBackend& backend);

  int64_t total() const { return total_; }
  // Memory of the Bloom filters (counted as hot state).
  size_t filter_bytes() const { return filter_bytes_; }
  bool Has(int64_t pane_end) const { return panes_.count(pane_end) > 0; }
  // The pane ends with groups in the backend, in time order.
  std::map<int64_t, int64_t>::const_iterator lower_bound(int64_t pane_end) const {
    return groups_by_pane_.lower_bound(pane_end);
  }
  std::map<int64_t, int64_t>::const_iterator end() const { return groups_by_pane_.end(); }
  int64_t earliest() const { return groups_by_pane_.begin()->first; }
  bool empty() const { return groups_by_pane_.empty(); }

  // Writes one group; `overwrite`: it is in the backend already (it was read back from there).
  void Put(uint16_t key_group, std::string_view key, int64_t pane_end, std::string_view row,
           bool overwrite);
  // True when the group is there (its row into *row).
  bool Get(uint16_t key_group, std::string_view key, int64_t pane_end, std::string* row);
  // Calls f(key_group, key, row) for every group of a pane end (in the backend's key order).
  void ForEach(int64_t pane_end,
               const std::function<void(uint16_t, std::string_view, std::string_view)>& f);
  // Removes every group of a pane end and returns how many there were.
  int64_t Drop(int64_t pane_end);

  // Whether there are writes since the last call (the caller commits once per batch).
  bool TakeDirty() {
    bool dirty = dirty_;
    dirty_ = false;
    return dirty;
  }

 private:
  struct Pane {
    int64_t groups = 0;
    std::map<uint16_t, int64_t> key_groups;
    GrowingBloomFilter keys;  // of the keys with a group here
  };
  static std::string AccKey(uint16_t key_group, std::string_view key, int64_t pane_end);
  static std::string TimerKey(uint16_t key_group, int64_t pane_end, std::string_view key);

  StateBackend& backend_;
  int acc_cf_, timer_cf_;
  std::map<int64_t, Pane> panes_;
  std::map<int64_t, int64_t> groups_by_pane_;  // the same counts, for ordered walks
  int64_t total_ = 0;
  size_t filter_bytes_ = 0;
  bool dirty_ = false;
  std::vector<std::pair<uint16_t, std::string>> keys_;  // Drop's scratch
};

}  // namespace millstream
