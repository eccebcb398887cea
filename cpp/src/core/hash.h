// The engine's in-memory hashes: a 64-bit integer mixer and a byte-string hash, for hash tables
// and Bloom filters (not for key groups: core/key_groups.h has the fixed, persisted hash).
//
//   uint64_t h = HashBytes(encoded_key);   // the same bytes give the same hash in this process
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace millstream {

// A 64-bit mixer (the finaliser of splitmix64): spreads nearby integers over the table.
inline uint64_t MixHash(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// A 64-bit hash of a byte string (encoded keys), a word at a time.
inline uint64_t HashBytes(std::string_view bytes) {
  uint64_t hash = 0x9e3779b97f4a7c15ull ^ bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    hash = MixHash(hash ^ word);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  return MixHash(hash ^ tail ^ (static_cast<uint64_t>(bytes.size() - i) << 56));
}

}  // namespace millstream
