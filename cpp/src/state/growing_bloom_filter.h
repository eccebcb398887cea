// A Bloom filter that grows with what is added: the keyed operators keep one over the groups
// they wrote to the state backend, so that a group that was never written there (a new window,
// a new key: the common case) is known to be absent without asking the backend, where the
// question costs a RocksDB Get that finds nothing.
//
// Blocked (each hash sets 8 bits in one 32-byte block: one cache line per lookup), 16 bits per
// entry: under 1% false positives (then the backend is asked, and says no). When a part is full
// the next one added has four times its capacity; a lookup asks every part (few: log4 of the
// growth; their blocks are fetched from memory together). Nothing is ever removed: a group that
// left the backend stays "maybe there".
//
// Example:
//   GrowingBloomFilter written;
//   written.Add(HashBytes(key));
//   if (written.MayContain(HashBytes(key))) { /* ask the backend */ }
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace millstream {

class GrowingBloomFilter {
 public:
  explicit GrowingBloomFilter(size_t first_capacity = 1024) : next_capacity_(first_capacity) {}

  void Add(uint64_t hash);
  bool MayContain(uint64_t hash) const;
  bool empty() const { return parts_.empty(); }
  size_t memory_bytes() const { return memory_bytes_; }
  // The filter as bytes (a checkpoint keeps it, so that a restored store knows its keys without
  // reading them all) and back. The hashes are HashBytes, fixed across processes.
  void AppendTo(std::string* out) const;
  // False when `bytes` is not a filter AppendTo wrote (the filter is then unchanged).
  bool ReadFrom(std::string_view bytes);

 private:
  struct alignas(32) Block {
    uint32_t words[8];
  };
  struct Part {
    std::vector<Block> blocks;
    size_t capacity = 0;
    size_t count = 0;
  };
  static size_t BlockIndex(const Part& part, uint64_t hash) {
    return ((hash >> 32) * part.blocks.size()) >> 32;
  }
  // The bit of word i: 5 bits of the low half of the hash, spread by an odd multiplier each.
  static uint32_t Bit(uint64_t hash, int i) {
    static constexpr uint32_t kSpread[8] = {0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du, 0x27d4eb2fu,
                                            0x165667b1u, 0xd3a2646du, 0xfd7046c5u, 0xb55a4f09u};
    return 1u << ((static_cast<uint32_t>(hash) * kSpread[i]) >> 27);
  }

  std::vector<Part> parts_;
  size_t next_capacity_;
  size_t memory_bytes_ = 0;
};

inline void GrowingBloomFilter::Add(uint64_t hash) {
  if (parts_.empty() || parts_.back().count == parts_.back().capacity) {
    Part part;
    part.capacity = next_capacity_;
    part.blocks.resize((next_capacity_ * 16 + 255) / 256);  // 16 bits per entry
    memory_bytes_ += part.blocks.size() * sizeof(Block);
    next_capacity_ *= 4;
    parts_.push_back(std::move(part));
  }
  Part& part = parts_.back();
  Block& block = part.blocks[BlockIndex(part, hash)];
  for (int i = 0; i < 8; ++i) block.words[i] |= Bit(hash, i);
  ++part.count;
}

inline bool GrowingBloomFilter::MayContain(uint64_t hash) const {
  for (const Part& part : parts_) __builtin_prefetch(&part.blocks[BlockIndex(part, hash)]);
  for (const Part& part : parts_) {
    const Block& block = part.blocks[BlockIndex(part, hash)];
    bool all = true;
    for (int i = 0; i < 8; ++i) all &= (block.words[i] & Bit(hash, i)) != 0;
    if (all) return true;
  }
  return false;
}

inline void GrowingBloomFilter::AppendTo(std::string* out) const {
  auto append = [out](uint64_t value) { out->append(reinterpret_cast<const char*>(&value), 8); };
  append(next_capacity_);
  append(parts_.size());
  for (const Part& part : parts_) {
    append(part.capacity);
    append(part.count);
    append(part.blocks.size());
    out->append(reinterpret_cast<const char*>(part.blocks.data()), part.blocks.size() * sizeof(Block));
  }
}

inline bool GrowingBloomFilter::ReadFrom(std::string_view bytes) {
  auto read = [&bytes](uint64_t* value) {
    if (bytes.size() < 8) return false;
    std::memcpy(value, bytes.data(), 8);
    bytes.remove_prefix(8);
    return true;
  };
  uint64_t next_capacity = 0, parts = 0;
  if (!read(&next_capacity) || !read(&parts)) return false;
  std::vector<Part> read_parts;
  size_t memory_bytes = 0;
  for (uint64_t i = 0; i < parts; ++i) {
    Part part;
    uint64_t capacity = 0, count = 0, blocks = 0;
    if (!read(&capacity) || !read(&count) || !read(&blocks)) return false;
    if (bytes.size() / sizeof(Block) < blocks || blocks == 0) return false;
    part.capacity = capacity;
    part.count = count;
    part.blocks.resize(blocks);
    std::memcpy(part.blocks.data(), bytes.data(), blocks * sizeof(Block));
    bytes.remove_prefix(blocks * sizeof(Block));
    memory_bytes += blocks * sizeof(Block);
    read_parts.push_back(std::move(part));
  }
  if (!bytes.empty()) return false;
  parts_ = std::move(read_parts);
  next_capacity_ = next_capacity;
  memory_bytes_ = memory_bytes;
  return true;
}

}  // namespace millstream
