// An open-addressing hash table with linear probing and backward-shift deletion (no tombstones,
// so lookups stay short in tables where windows come and go all the time). The hot tables of
// the keyed aggregations are built on it: keys to key slots, (key slot, window) to groups.
//
// An Entry is a small struct with `bool empty() const` and a default value that is empty; the
// caller supplies the hash and the match, so entries need not store their hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/hash.h"

namespace millstream {

template <typename Entry>
class ProbeTable {
 public:
  explicit ProbeTable(size_t initial_capacity = 1024) { Reset(initial_capacity); }

  size_t size() const { return size_; }
  size_t capacity() const { return entries_.size(); }
  size_t memory_bytes() const { return entries_.size() * sizeof(Entry); }

  // The entry matching `hash`/`match`, or nullptr.
  template <typename Match>
  Entry* Find(uint64_t hash, Match&& match) {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Entry& entry = entries_[i];
      if (entry.empty()) return nullptr;
      if (match(entry)) return &entry;
    }
  }

  // The matching entry (second = false) or an empty entry the caller must fill with a key that
  // hashes to `hash` (second = true). The pointer is valid until the next insert.
  template <typename Match, typename HashOf>
  std::pair<Entry*, bool> FindOrInsert(uint64_t hash, Match&& match, HashOf&& hash_of) {
    if ((size_ + 1) * 8 > entries_.size() * 5) Grow(hash_of);  // load factor <= 5/8
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Entry& entry = entries_[i];
      if (entry.empty()) {
        ++size_;
        return {&entry, true};
      }
      if (match(entry)) return {&entry, false};
    }
  }

  void Prefetch(uint64_t hash) const { __builtin_prefetch(&entries_[hash & mask_]); }

  // Removes `entry` (a pointer from Find), moving later entries of its probe run back.
  template <typename HashOf>
  void Erase(Entry* entry, HashOf&& hash_of) {
    size_t hole = static_cast<size_t>(entry - entries_.data());
    MS_CHECK(hole < entries_.size() && !entry->empty(), "erasing an entry not in the table");
    for (size_t next = (hole + 1) & mask_;; next = (next + 1) & mask_) {
      Entry& candidate = entries_[next];
      if (candidate.empty()) break;
      size_t home = hash_of(candidate) & mask_;
      // The candidate may move into the hole when its home is not in (hole, next].
      bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
      if (stays) continue;
      entries_[hole] = candidate;
      hole = next;
    }
    entries_[hole] = Entry{};
    --size_;
  }

  template <typename F>
  void ForEach(F&& f) {
    for (Entry& entry : entries_) {
      if (!entry.empty()) f(entry);
    }
  }

  void Reset(size_t capacity) {
    size_t rounded = 16;
    while (rounded < capacity) rounded *= 2;
    entries_.assign(rounded, Entry{});
    mask_ = rounded - 1;
    size_ = 0;
  }

 private:
  template <typename HashOf>
  void Grow(HashOf&& hash_of) {
    std::vector<Entry> old;
    old.swap(entries_);
    entries_.assign(old.size() * 2, Entry{});
    mask_ = entries_.size() - 1;
    for (const Entry& entry : old) {
      if (entry.empty()) continue;
      size_t i = hash_of(entry) & mask_;
      while (!entries_[i].empty()) i = (i + 1) & mask_;
      entries_[i] = entry;
    }
  }

  std::vector<Entry> entries_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace millstream
