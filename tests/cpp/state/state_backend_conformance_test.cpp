// One suite, both backends: memory and rocksdb must behave alike (DESIGN.md, State). Each
// result is checked against a std::map holding what the state should be.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "state/rocksdb_backend.h"
#include "state/state_backend.h"
#include "state/state_factory.h"

namespace millstream {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

class StateBackendConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { state_ = Make(256ll << 20); }

  std::unique_ptr<StateBackend> Make(int64_t cache_bytes) {
    StateOptions options;
    options.kind = GetParam();
    options.cache_bytes = cache_bytes;
    environment_ = StateEnvironment::Create(options);
    return environment_->MakeBackend("op1", 0);
  }

  Entries ScanAll(int cf, std::string_view begin = "", std::string_view end = "") {
    Entries entries;
    for (auto it = state_->Scan(cf, begin, end); it->Valid(); it->Next()) {
      entries.emplace_back(it->key(), it->value());
    }
    return entries;
  }

  std::string GetOr(int cf, std::string_view key, const std::string& missing = "<missing>") {
    std::string value;
    return state_->Get(cf, key, &value) ? value : missing;
  }

  std::shared_ptr<StateEnvironment> environment_;
  std::unique_ptr<StateBackend> state_;
};

TEST_P(StateBackendConformance, PutGetDelete) {
  EXPECT_EQ(state_->kind(), GetParam());
  const int cf = state_->ColumnFamily("windows");
  EXPECT_EQ(GetOr(cf, "a"), "<missing>");
  state_->Put(cf, "a", "1");
  state_->Put(cf, "b", "");
  EXPECT_EQ(GetOr(cf, "a"), "1");
  EXPECT_EQ(GetOr(cf, "b"), "");  // an empty value is a value
  state_->Commit();
  EXPECT_EQ(GetOr(cf, "a"), "1");
  state_->Delete(cf, "a");
  state_->Delete(cf, "never-there");
  EXPECT_EQ(GetOr(cf, "a"), "<missing>");
  state_->Commit();
  EXPECT_EQ(GetOr(cf, "a"), "<missing>");
  EXPECT_EQ(ScanAll(cf), (Entries{{"b", ""}}));
  state_->Commit();  // nothing to commit
}

TEST_P(StateBackendConformance, OverwriteKeepsTheLastValue) {
  const int cf = state_->ColumnFamily("acc");
  state_->Put(cf, "k", "one");
  state_->Put(cf, "k", "two");
  EXPECT_EQ(GetOr(cf, "k"), "two");
  state_->Commit();
  state_->Put(cf, "k", "three");
  EXPECT_EQ(GetOr(cf, "k"), "three");
  EXPECT_EQ(ScanAll(cf), (Entries{{"k", "three"}}));
  state_->Commit();
  EXPECT_EQ(GetOr(cf, "k"), "three");
  state_->Delete(cf, "k");
  state_->Put(cf, "k", "four");  // put after delete in one batch
  EXPECT_EQ(GetOr(cf, "k"), "four");
  state_->Commit();
  EXPECT_EQ(GetOr(cf, "k"), "four");
}

TEST_P(StateBackendConformance, ReadsItsUncommittedWritesMergedWithCommittedState) {
  const int cf = state_->ColumnFamily("s");
  for (const char* key : {"b", "d", "f", "h"}) state_->Put(cf, key, std::string("old-") + key);
  state_->Commit();
  state_->Put(cf, "a", "new-a");   // before all committed keys
  state_->Put(cf, "d", "new-d");   // overwrites a committed key
  state_->Delete(cf, "f");         // hides a committed key
  state_->Put(cf, "g", "new-g");   // between committed keys
  state_->Put(cf, "z", "new-z");   // after all
  const Entries expected = {{"a", "new-a"}, {"b", "old-b"}, {"d", "new-d"},
                            {"g", "new-g"}, {"h", "old-h"}, {"z", "new-z"}};
  EXPECT_EQ(GetOr(cf, "f"), "<missing>");
  EXPECT_EQ(GetOr(cf, "d"), "new-d");
  EXPECT_EQ(ScanAll(cf), expected);
  EXPECT_EQ(ScanAll(cf, "c", "h"), (Entries{{"d", "new-d"}, {"g", "new-g"}}));
  state_->Commit();
  EXPECT_EQ(ScanAll(cf), expected);
}

TEST_P(StateBackendConformance, MultiGetSeesCommittedAndBufferedWrites) {
  const int cf = state_->ColumnFamily("s");
  std::map<std::string, std::string> reference;
  std::mt19937_64 random(5);
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) keys.push_back("k" + std::to_string(random() % 5000));
  auto check = [&](const char* when) {
    // Unsorted, with repeats and absent keys, more than one chunk.
    std::vector<std::string> asked;
    for (int i = 0; i < 2500; ++i) asked.push_back("k" + std::to_string(random() % 6000));
    std::vector<std::string> got(asked.size(), "<missing>");
    size_t last = 0, calls = 0;
    state_->MultiGet(cf, asked, [&](size_t i, std::string_view value) {
      EXPECT_TRUE(calls == 0 || i > last) << when << ": found() out of index order";
      last = i;
      ++calls;
      got[i] = std::string(value);
    });
    for (size_t i = 0; i < asked.size(); ++i) {
      auto found = reference.find(asked[i]);
      ASSERT_EQ(got[i], found == reference.end() ? "<missing>" : found->second) << when << " " << asked[i];
    }
  };
  check("empty");
  for (int i = 0; i < 2000; ++i) {
    state_->Put(cf, keys[i], "v" + std::to_string(i));
    reference[keys[i]] = "v" + std::to_string(i);
  }
  state_->Commit();
  check("committed");
  for (int i = 2000; i < 3000; ++i) {
    if (i % 3 == 0) {
      state_->Delete(cf, keys[i]);
      reference.erase(keys[i]);
    } else {
      state_->Put(cf, keys[i], "w" + std::to_string(i));
      reference[keys[i]] = "w" + std::to_string(i);
    }
  }
  check("buffered");
  state_->Commit();
  check("committed again");
}

TEST_P(StateBackendConformance, ScansAreBytewiseOrderedWithinBounds) {
  const int cf = state_->ColumnFamily("s");
  // Bytes above 0x7f sort after ASCII (unsigned), and a key sorts before its extensions.
  const std::vector<std::string> keys = {std::string("\x00", 1), std::string("\x00\x00", 2),
                                         "a", "ab", "abc", "b", std::string("\x7f"),
                                         std::string("\x80"), std::string("\xff"),
                                         std::string("\xff\xff")};
  for (size_t i = 0; i < keys.size(); ++i) {
    state_->Put(cf, keys[keys.size() - 1 - i], std::to_string(keys.size() - 1 - i));
    if (i == 4) state_->Commit();  // half committed, half buffered
  }
  Entries all;
  for (size_t i = 0; i < keys.size(); ++i) all.emplace_back(keys[i], std::to_string(i));
  EXPECT_EQ(ScanAll(cf), all);
  EXPECT_EQ(ScanAll(cf, "ab", "b"), (Entries{{"ab", "3"}, {"abc", "4"}}));   // [begin, end)
  EXPECT_EQ(ScanAll(cf, "aa", "ab"), (Entries{}));
  EXPECT_EQ(ScanAll(cf, "b", "a"), (Entries{}));                              // begin > end
  EXPECT_EQ(ScanAll(cf, "\x80", ""), (Entries(all.begin() + 7, all.end())));  // no upper bound
  EXPECT_EQ(ScanAll(cf, "", "a"), (Entries(all.begin(), all.begin() + 2)));
}

TEST_P(StateBackendConformance, PrefixScansSeeExactlyTheirPrefix) {
  const int cf = state_->ColumnFamily("s");
  const std::vector<std::string> prefixes = {"k1", std::string("k\xff"), std::string("\xff\xff"), "k"};
  std::map<std::string, std::string> reference;
  std::mt19937_64 random(1);
  for (int i = 0; i < 2000; ++i) {
    std::string key = prefixes[random() % 3];
    const int extra = static_cast<int>(random() % 3);
    for (int j = 0; j < extra; ++j) key.push_back(static_cast<char>(random() % 256));
    reference[key] = std::to_string(i);
    state_->Put(cf, key, std::to_string(i));
    if (i % 500 == 0) state_->Commit();
  }
  for (const std::string& prefix : prefixes) {
    Entries expected;
    for (const auto& [key, value] : reference) {
      if (key.starts_with(prefix)) expected.emplace_back(key, value);
    }
    EXPECT_EQ(ScanAll(cf, prefix, PrefixEnd(prefix)), expected) << "prefix size " << prefix.size();
  }
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff")), "");
  EXPECT_EQ(PrefixEnd(std::string("a\xff")), "b");
}

TEST_P(StateBackendConformance, ColumnFamiliesAreSeparate) {
  const int windows = state_->ColumnFamily("windows");
  const int timers = state_->ColumnFamily("timers");
  EXPECT_NE(windows, timers);
  EXPECT_EQ(state_->ColumnFamily("windows"), windows);  // same name, same handle
  const int fallback = state_->ColumnFamily("default");
  state_->Put(windows, "k", "w");
  state_->Put(timers, "k", "t");
  state_->Put(timers, "only-timers", "t2");
  state_->Put(fallback, "k", "d");
  state_->Commit();
  state_->Delete(windows, "k");
  EXPECT_EQ(GetOr(windows, "k"), "<missing>");
  EXPECT_EQ(GetOr(timers, "k"), "t");
  EXPECT_EQ(GetOr(fallback, "k"), "d");
  EXPECT_EQ(ScanAll(timers), (Entries{{"k", "t"}, {"only-timers", "t2"}}));
  EXPECT_EQ(ScanAll(windows), (Entries{}));
  // A family made after writes were buffered.
  const int late = state_->ColumnFamily("late");
  EXPECT_EQ(ScanAll(late), (Entries{}));
  state_->Put(late, "x", "y");
  state_->Commit();
  EXPECT_EQ(ScanAll(late), (Entries{{"x", "y"}}));
  EXPECT_EQ(GetOr(timers, "k"), "t");
  EXPECT_THROW(state_->Get(99, "k", nullptr), InternalError);
}

TEST_P(StateBackendConformance, WritesDuringAScanContinueAfterTheCurrentKey) {
  const int cf = state_->ColumnFamily("s");
  for (int i = 0; i < 10; ++i) state_->Put(cf, "k" + std::to_string(i), std::to_string(i));
  state_->Commit();
  // Delete each entry as the scan passes it (firing windows), add one ahead of the scan and one
  // behind it, and commit in the middle.
  std::vector<std::string> seen;
  for (auto it = state_->Scan(cf, "k", "l"); it->Valid(); it->Next()) {
    const std::string key(it->key());
    seen.push_back(key + "=" + std::string(it->value()));
    state_->Delete(cf, key);
    if (key == "k3") {
      state_->Put(cf, "k35", "ahead");
      state_->Put(cf, "k05", "behind");
    }
    if (key == "k5") state_->Commit();
    if (key == "k7") state_->Put(cf, "k8", "changed");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"k0=0", "k1=1", "k2=2", "k3=3", "k35=ahead", "k4=4",
                                            "k5=5", "k6=6", "k7=7", "k8=changed", "k9=9"}));
  state_->Commit();
  EXPECT_EQ(ScanAll(cf), (Entries{{"k05", "behind"}}));
  // Two iterators open at once, one exhausted before a write.
  state_->Put(cf, "a", "1");
  auto first = state_->Scan(cf, "", "");
  auto empty = state_->Scan(cf, "zz", "");
  EXPECT_FALSE(empty->Valid());
  state_->Put(cf, "b", "2");
  EXPECT_FALSE(empty->Valid());
  ASSERT_TRUE(first->Valid());
  EXPECT_EQ(first->key(), "a");
  first->Next();
  ASSERT_TRUE(first->Valid());
  EXPECT_EQ(first->key(), "b");
}

TEST_P(StateBackendConformance, RandomOperationsMatchAnOrderedMap) {
  // 1 M operations over 1 M possible keys (~400 K live at the end), in batches of 5000 like
  // input batches, in two families; every read and a scan per batch checked against std::map.
  std::mt19937_64 random(42);
  const int families[2] = {state_->ColumnFamily("a"), state_->ColumnFamily("b")};
  std::map<std::string, std::string> reference[2];
  auto key_of = [](uint64_t number) {
    std::string key(1, static_cast<char>(number % 3));  // a key-group-like prefix
    key.push_back('\x2a');
    key += std::to_string(number % 7);
    for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(number >> shift));
    return key;
  };
  int64_t reads = 0;
  for (int operation = 0; operation < 1000000; ++operation) {
    const int family = static_cast<int>(random() % 2);
    const int cf = families[family];
    const std::string key = key_of(random() % 1000000);
    const uint64_t choice = random() % 10;
    if (choice < 5) {
      const std::string value(random() % 40, static_cast<char>('a' + operation % 26));
      state_->Put(cf, key, value);
      reference[family][key] = value;
    } else if (choice < 7) {
      state_->Delete(cf, key);
      reference[family].erase(key);
    } else {
      std::string value;
      const bool found = state_->Get(cf, key, &value);
      auto expected = reference[family].find(key);
      ASSERT_EQ(found, expected != reference[family].end()) << "operation " << operation;
      if (found) ASSERT_EQ(value, expected->second);
      ++reads;
    }
    if (operation % 5000 == 4999) {
      // A bounded scan of up to 50 entries from a random key.
      const std::string begin = key_of(random() % 1000000);
      auto expected = reference[family].lower_bound(begin);
      auto it = state_->Scan(cf, begin, "");
      for (int i = 0; i < 50 && expected != reference[family].end(); ++i, ++expected, it->Next()) {
        ASSERT_TRUE(it->Valid());
        ASSERT_EQ(it->key(), expected->first);
        ASSERT_EQ(it->value(), expected->second);
      }
      it.reset();
      state_->Commit();
    }
  }
  state_->Commit();
  EXPECT_GT(reads, 250000);
  for (int family = 0; family < 2; ++family) {
    EXPECT_GT(reference[family].size(), 150000u);
    auto expected = reference[family].begin();
    for (auto it = state_->Scan(families[family], "", ""); it->Valid(); it->Next(), ++expected) {
      ASSERT_NE(expected, reference[family].end());
      ASSERT_EQ(it->key(), expected->first);
      ASSERT_EQ(it->value(), expected->second);
    }
    EXPECT_EQ(expected, reference[family].end());
  }
}

// 64 MB of state through an 8 MB cache: rocksdb keeps it on disk, reads it back, and its block
// cache stays bounded (the memory backend simply holds it).
TEST_P(StateBackendConformance, StateLargerThanTheCache) {
  const int64_t cache_bytes = 8 << 20;
  state_.reset();
  state_ = Make(cache_bytes);
  const int cf = state_->ColumnFamily("big");
  const int value_bytes = 4096;
  const int entries = 16384;  // 64 MiB of values
  auto value_of = [&](int i) {
    std::string value(value_bytes, '\0');
    uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL + 1;
    for (char& c : value) {  // incompressible, so it cannot hide in a small cache
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      c = static_cast<char>(x);
    }
    return value;
  };
  auto key_of = [](int i) {
    char key[16];
    std::snprintf(key, sizeof(key), "key%09d", i);
    return std::string(key);
  };
  for (int i = 0; i < entries; ++i) {
    state_->Put(cf, key_of((i * 7919) % entries), value_of((i * 7919) % entries));
    if (i % 256 == 255) state_->Commit();
  }
  state_->Commit();
  std::string value;
  for (int i = 0; i < entries; i += 7) {
    ASSERT_TRUE(state_->Get(cf, key_of(i), &value)) << i;
    ASSERT_EQ(value, value_of(i)) << i;
  }
  int scanned = 0;
  for (auto it = state_->Scan(cf, "", ""); it->Valid(); it->Next(), ++scanned) {
    ASSERT_EQ(it->key(), key_of(scanned));
    if (scanned % 97 == 0) ASSERT_EQ(it->value(), value_of(scanned));
  }
  EXPECT_EQ(scanned, entries);
  if (auto* rocksdb = dynamic_cast<RocksDbBackend*>(state_.get())) {
    const int64_t cache_usage = std::stoll(rocksdb->Property(-1, "rocksdb.block-cache-usage"));
    EXPECT_GT(cache_usage, 0);
    EXPECT_LE(cache_usage, 2 * cache_bytes) << "the block cache is not bounded";
    const int64_t live_sst_bytes = std::stoll(rocksdb->Property(cf, "rocksdb.live-sst-files-size"));
    EXPECT_GT(live_sst_bytes, 4 * cache_bytes) << "the state did not go to disk";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StateBackendConformance, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace millstream
