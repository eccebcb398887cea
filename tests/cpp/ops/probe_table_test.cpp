// The open-addressing table against std::unordered_map: random inserts, finds and erases
// (backward-shift deletion must keep every other key findable), through growth, with keys
// crowded into few home buckets so that probe runs are long and wrap around the table's end.
#include "ops/probe_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace millstream {
namespace {

struct Entry {
  int64_t key = 0;
  uint32_t value = 0xffffffffu;
  bool empty() const { return value == 0xffffffffu; }
};

// hash_bits: how many low bits of the hash vary (few: long runs of colliding keys).
void RandomOperations(uint64_t seed, int hash_bits, int key_span, int operations) {
  auto hash = [hash_bits](int64_t key) {
    const uint64_t mixed = MixHash(static_cast<uint64_t>(key));
    return hash_bits >= 64 ? mixed : (mixed & ((1ull << hash_bits) - 1)) | (1ull << 63);
  };
  auto hash_of = [&](const Entry& e) { return hash(e.key); };
  ProbeTable<Entry> table(16);
  std::unordered_map<int64_t, uint32_t> reference;
  std::mt19937_64 random(seed);
  for (int op = 0; op < operations; ++op) {
    const int64_t key = std::uniform_int_distribution<int64_t>(-key_span, key_span)(random);
    auto match = [key](const Entry& e) { return e.key == key; };
    const int kind = std::uniform_int_distribution<int>(0, 9)(random);
    if (kind < 5) {  // insert or update
      auto [entry, inserted] = table.FindOrInsert(hash(key), match, hash_of);
      ASSERT_EQ(inserted, reference.count(key) == 0) << "key " << key;
      const uint32_t value = static_cast<uint32_t>(op);
      entry->key = key;
      entry->value = value;
      reference[key] = value;
    } else if (kind < 8) {  // erase
      Entry* entry = table.Find(hash(key), match);
      ASSERT_EQ(entry != nullptr, reference.count(key) == 1) << "key " << key;
      if (entry != nullptr) {
        table.Erase(entry, hash_of);
        reference.erase(key);
      }
    } else {  // find
      Entry* entry = table.Find(hash(key), match);
      auto expected = reference.find(key);
      ASSERT_EQ(entry != nullptr, expected != reference.end()) << "key " << key;
      if (entry != nullptr) ASSERT_EQ(entry->value, expected->second);
    }
    ASSERT_EQ(table.size(), reference.size());
  }
  // Every key the reference holds is found with its value, and the table holds nothing else.
  for (const auto& [key, value] : reference) {
    Entry* entry = table.Find(hash(key), [key = key](const Entry& e) { return e.key == key; });
    ASSERT_NE(entry, nullptr) << "key " << key;
    EXPECT_EQ(entry->value, value);
  }
  size_t seen = 0;
  table.ForEach([&](Entry& e) {
    ++seen;
    EXPECT_EQ(reference.at(e.key), e.value);
  });
  EXPECT_EQ(seen, reference.size());
  EXPECT_LE(table.size() * 8, table.capacity() * 5) << "load factor above 5/8";
}

TEST(ProbeTable, AgreesWithUnorderedMapUnderRandomOperations) {
  RandomOperations(1, 64, 5000, 200000);
}

TEST(ProbeTable, AgreesWithUnorderedMapWhenKeysCollide) {
  // 3 bits of hash: every key has one of 8 home buckets, runs wrap around the end.
  RandomOperations(2, 3, 300, 50000);
}

TEST(ProbeTable, EmptiesCompletelyAndResets) {
  ProbeTable<Entry> table(16);
  auto hash_of = [](const Entry& e) { return MixHash(static_cast<uint64_t>(e.key)); };
  for (int64_t key = 0; key < 1000; ++key) {
    auto [entry, inserted] = table.FindOrInsert(
        MixHash(static_cast<uint64_t>(key)), [key](const Entry& e) { return e.key == key; }, hash_of);
    ASSERT_TRUE(inserted);
    *entry = Entry{key, static_cast<uint32_t>(key)};
  }
  EXPECT_GE(table.capacity(), 1600u);
  for (int64_t key = 999; key >= 0; --key) {
    Entry* entry = table.Find(MixHash(static_cast<uint64_t>(key)), [key](const Entry& e) { return e.key == key; });
    ASSERT_NE(entry, nullptr);
    table.Erase(entry, hash_of);
  }
  EXPECT_EQ(table.size(), 0u);
  size_t left = 0;
  table.ForEach([&](Entry&) { ++left; });
  EXPECT_EQ(left, 0u);
  table.Reset(100);
  EXPECT_EQ(table.capacity(), 128u);
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace millstream
