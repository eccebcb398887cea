// The keyed state store over both backends: random steps of reads and writes of keys, with a
// hot budget that sends most of them to the backend and back, checked against a std::map of
// what every key holds; the least recently touched entries leave first; a snapshot holds every
// entry once (hot and cold) and restores into a fresh store with the same contents.
#include "state/keyed_state_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../formats/text_file_testing.h"  // TempDir
#include "core/key_groups.h"
#include "state/state_factory.h"

namespace millstream {
namespace {

// An operator whose entries are byte strings: entry id -> (state key, value).
class StringEntries final : public KeyedEntryCodec {
 public:
  uint32_t Make(std::string key) {
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    }
    entries_[id] = Entry{std::move(key), ""};
    id_of_key_[entries_[id]->key] = id;
    return id;
  }
  void Drop(uint32_t id) {
    id_of_key_.erase(entries_[id]->key);
    entries_[id].reset();
    free_.push_back(id);
  }
  std::optional<uint32_t> Find(const std::string& key) const {
    auto found = id_of_key_.find(key);
    if (found == id_of_key_.end()) return std::nullopt;
    return found->second;
  }
  std::string& value(uint32_t id) { return entries_[id]->value; }
  size_t hot_count() const { return id_of_key_.size(); }
  std::vector<uint32_t> evicted;  // in eviction order

  void AppendStateKey(uint32_t id, std::string* key) const override { key->append(entries_[id]->key); }
  void Serialize(uint32_t id, std::string* value) override { value->append(entries_[id]->value); }
  void Evicted(uint32_t id) override {
    evicted.push_back(id);
    Drop(id);
  }
  int64_t HotBytes() const override {
    int64_t bytes = 0;
    for (const auto& entry : entries_) {
      if (entry) bytes += 64 + static_cast<int64_t>(entry->key.size() + entry->value.size());
    }
    return bytes;
  }

 private:
  struct Entry {
    std::string key, value;
  };
  std::vector<std::optional<Entry>> entries_;
  std::vector<uint32_t> free_;
  std::map<std::string, uint32_t> id_of_key_;
};

std::string StateKey(int key_group, int key) {
  std::string bytes;
  AppendKeyGroup(key_group, &bytes);
  bytes += "key-" + std::to_string(key);
  return bytes;
}

using Contents = std::vector<std::pair<std::string, std::string>>;

Contents SnapshotOf(KeyedStateStore& store, int first = 0, int end = kMaxKeyGroups) {
  Contents contents;
  store.Snapshot(first, end, [&](std::string_view key, std::string_view value) {
    contents.emplace_back(key, value);
  });
  return contents;
}

class KeyedStateStoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<StateBackend> MakeBackend(const std::string& operator_id) {
    StateOptions options;
    options.kind = GetParam();
    options.cache_bytes = 64 << 20;
    if (!environment_) environment_ = StateEnvironment::Create(options);
    return environment_->MakeBackend(operator_id, 0);
  }

  // One step: the keys' entries made hot (read back when cold), then each key's value gets
  // one more letter; the model must agree with what was read back.
  void Step(KeyedStateStore& store, StringEntries& entries, const std::vector<int>& keys,
            uint32_t step, std::map<std::string, std::string>* model) {
    std::map<uint32_t, bool> loaded;
    for (int key : keys) {
      const std::string state_key = StateKey(key % 128, key);
      if (entries.Find(state_key)) continue;
      const uint32_t id = entries.Make(state_key);
      store.Add(id, step);
      loaded[id] = false;
      if (store.MayBeCold(state_key)) store.RequestLoad(id, state_key);
    }
    store.LoadRequested([&](uint32_t id, std::string_view value) {
      EXPECT_FALSE(loaded.at(id)) << "found twice";
      loaded[id] = true;
      entries.value(id).assign(value);
    });
    for (const auto& [id, found] : loaded) {
      // Found in the backend exactly when the model has the key (it was written back).
      std::string key;
      entries.AppendStateKey(id, &key);
      auto expected = model->find(key);
      ASSERT_EQ(found, expected != model->end()) << "key " << key.substr(2);
      if (found) EXPECT_EQ(entries.value(id), expected->second);
    }
    for (int key : keys) {
      const std::string state_key = StateKey(key % 128, key);
      const uint32_t id = *entries.Find(state_key);
      entries.value(id).push_back(static_cast<char>('a' + step % 26));
      (*model)[state_key] = entries.value(id);
      store.Touch(id, step);
    }
  }

  std::shared_ptr<StateEnvironment> environment_;
};

TEST_P(KeyedStateStoreConformance, ReadsBackWhatItWroteBeyondTheBudget) {
  auto backend = MakeBackend("op1");
  OperatorMetrics metrics("test");
  StringEntries entries;
  const int64_t budget_bytes = 20000;  // ~200 hot entries of 2000 keys
  KeyedStateStore store(*backend, "test_acc", budget_bytes, &metrics, &entries);
  std::map<std::string, std::string> model;
  std::mt19937_64 random(7);
  for (uint32_t step = 1; step <= 200; ++step) {
    std::vector<int> keys;
    const int count = std::uniform_int_distribution<int>(1, 120)(random);
    for (int i = 0; i < count; ++i) keys.push_back(std::uniform_int_distribution<int>(0, 1999)(random));
    Step(store, entries, keys, step, &model);
    // Now and then a hot key is dropped for good (as a window past its lateness).
    if (step % 7 == 0) {
      const std::string state_key = StateKey(keys[0] % 128, keys[0]);
      const uint32_t id = *entries.Find(state_key);
      store.Remove(id);
      entries.Drop(id);
      model.erase(state_key);
    }
    store.FinishStep();
    ASSERT_LE(store.HotBytes(), budget_bytes);
    ASSERT_EQ(store.entries(), static_cast<int64_t>(model.size()));
    ASSERT_EQ(metrics.state_entries.load(), static_cast<int64_t>(model.size()));
    ASSERT_EQ(store.hot_entries(), static_cast<int64_t>(entries.hot_count()));
  }
  EXPECT_GT(store.cold_entries(), 1000);
  EXPECT_GT(metrics.state_writes.load(), 1000);
  EXPECT_GT(metrics.state_reads.load(), 1000);
  const Contents all(model.begin(), model.end());
  EXPECT_EQ(SnapshotOf(store), all);
  // A range of key groups holds its keys only.
  Contents some;
  for (const auto& entry : all) {
    const int key_group = ReadKeyGroup(entry.first);
    if (key_group >= 10 && key_group < 50) some.push_back(entry);
  }
  EXPECT_EQ(SnapshotOf(store, 10, 50), some);
}

TEST_P(KeyedStateStoreConformance, SnapshotRestoresIntoAFreshStore) {
  auto backend = MakeBackend("op1");
  StringEntries entries;
  KeyedStateStore store(*backend, "test_acc", 8000, nullptr, &entries);
  std::map<std::string, std::string> model;
  std::mt19937_64 random(11);
  for (uint32_t step = 1; step <= 60; ++step) {
    std::vector<int> keys;
    for (int i = 0; i < 40; ++i) keys.push_back(std::uniform_int_distribution<int>(0, 499)(random));
    Step(store, entries, keys, step, &model);
    store.FinishStep();
  }
  ASSERT_GT(store.hot_entries(), 0);
  ASSERT_GT(store.cold_entries(), 0);
  const Contents snapshot = SnapshotOf(store);
  ASSERT_EQ(snapshot, Contents(model.begin(), model.end()));

  auto fresh_backend = MakeBackend("op2");
  OperatorMetrics metrics("restored");
  StringEntries fresh_entries;
  KeyedStateStore fresh(*fresh_backend, "test_acc", 8000, &metrics, &fresh_entries);
  for (const auto& [key, value] : snapshot) fresh.Restore(key, value);
  fresh.FinishStep();
  EXPECT_EQ(fresh.entries(), static_cast<int64_t>(snapshot.size()));
  EXPECT_EQ(metrics.state_entries.load(), static_cast<int64_t>(snapshot.size()));
  EXPECT_EQ(SnapshotOf(fresh), snapshot);
  // The restored entries come back on their keys' next rows, as any cold entry does.
  std::vector<int> all_keys(500);
  for (int key = 0; key < 500; ++key) all_keys[key] = key;
  for (size_t first = 0; first < all_keys.size(); first += 50) {
    std::vector<int> keys(all_keys.begin() + first, all_keys.begin() + first + 50);
    Step(fresh, fresh_entries, keys, 100 + static_cast<uint32_t>(first), &model);
    fresh.FinishStep();
  }
  EXPECT_EQ(SnapshotOf(fresh), Contents(model.begin(), model.end()));
}

TEST_P(KeyedStateStoreConformance, EvictsTheLeastRecentlyTouchedFirst) {
  auto backend = MakeBackend("op1");
  StringEntries entries;
  KeyedStateStore store(*backend, "test_acc", 100 * 100, nullptr, &entries);
  std::vector<uint32_t> ids;
  for (int key = 0; key < 100; ++key) {
    const uint32_t id = entries.Make(StateKey(key % 128, key));
    entries.value(id) = std::string(30, 'v');  // 100 bytes an entry, with the 64 of overhead
    ids.push_back(id);
  }
  // Touched in a shuffled order: entry ids[order[i]] at step i + 1.
  std::vector<int> order(100);
  for (int i = 0; i < 100; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
  for (int i = 0; i < 100; ++i) store.Add(ids[order[i]], static_cast<uint32_t>(i + 1));
  entries.value(ids[order[99]]) += std::string(2000, 'x');  // the newest: 12,000 bytes in all
  store.FinishStep();
  ASSERT_FALSE(entries.evicted.empty());
  EXPECT_LE(store.HotBytes(), 100 * 100 / 4 * 3);
  // The evicted are exactly the oldest, in age order, and no more than needed.
  for (size_t i = 0; i < entries.evicted.size(); ++i) EXPECT_EQ(entries.evicted[i], ids[order[i]]);
  EXPECT_EQ(store.cold_entries(), static_cast<int64_t>(entries.evicted.size()));
  EXPECT_GT(store.HotBytes() + 100, 100 * 100 / 4 * 3) << "one eviction fewer would have been over";
}

TEST_P(KeyedStateStoreConformance, NewKeysNeverAskTheBackend) {
  auto backend = MakeBackend("op1");
  OperatorMetrics metrics("test");
  StringEntries entries;
  KeyedStateStore store(*backend, "test_acc", -1, &metrics, &entries);  // unbounded
  std::map<std::string, std::string> model;
  std::vector<int> keys(1000);
  for (int key = 0; key < 1000; ++key) keys[key] = key;
  Step(store, entries, keys, 1, &model);
  store.FinishStep();
  EXPECT_EQ(metrics.state_reads.load(), 0);
  EXPECT_EQ(metrics.state_writes.load(), 0);
  EXPECT_EQ(store.hot_entries(), 1000);
  EXPECT_EQ(SnapshotOf(store), Contents(model.begin(), model.end()));
}

// Entries with a time in the store's time index: the length of their value (so it moves while
// an entry is hot), noting what the backend's index must hold: state key -> time and value.
class TimedEntries final : public KeyedEntryCodec {
 public:
  explicit TimedEntries(StringEntries& entries) : entries_(entries) {}
  std::map<std::string, std::pair<int64_t, std::string>> in_backend;

  void AppendStateKey(uint32_t id, std::string* key) const override { entries_.AppendStateKey(id, key); }
  void Serialize(uint32_t id, std::string* value) override { entries_.Serialize(id, value); }
  int64_t IndexTime(uint32_t id) const override {
    return static_cast<int64_t>(entries_.value(id).size()) - 50;  // negative times too
  }
  void Evicted(uint32_t id) override {
    std::string key;
    entries_.AppendStateKey(id, &key);
    in_backend[key] = {IndexTime(id), entries_.value(id)};
    entries_.Evicted(id);
  }
  int64_t HotBytes() const override { return entries_.HotBytes(); }

 private:
  StringEntries& entries_;
};

TEST_P(KeyedStateStoreConformance, TimeIndexHoldsWhatTheBackendHolds) {
  for (const bool take_on_load : {false, true}) {
    SCOPED_TRACE(take_on_load ? "take on load" : "keep a copy");
    auto backend = MakeBackend(take_on_load ? "op_take" : "op_keep");
    OperatorMetrics metrics("test");
    StringEntries entries;
    TimedEntries timed(entries);
    KeyedStateStore store(*backend, "timed_acc", 6000, &metrics, &timed);
    TimeIndexOptions index;
    index.column_family = "timed_index";
    index.copy_value = !take_on_load;
    index.take_on_load = take_on_load;
    store.UseTimeIndex(index);
    std::map<std::string, std::string> model;
    std::mt19937_64 random(take_on_load ? 5 : 6);
    auto check_index = [&] {
      std::map<std::string, std::pair<int64_t, std::string>> scanned;
      store.ScanIndex(INT64_MIN, INT64_MAX, [&](uint16_t key_group, std::string_view key,
                                               int64_t time_ms, std::string_view value) {
        std::string state_key;
        AppendKeyGroup(key_group, &state_key);
        state_key.append(key);
        EXPECT_TRUE(scanned.emplace(state_key, std::make_pair(time_ms, std::string(value))).second);
      });
      auto expected = timed.in_backend;
      if (take_on_load) {
        for (auto& [key, time_and_value] : expected) time_and_value.second.clear();  // not copied
      }
      ASSERT_EQ(scanned, expected);
      std::map<int64_t, int64_t> times;
      for (const auto& [key, time_and_value] : expected) ++times[time_and_value.first];
      ASSERT_EQ(store.index_times(), times);
    };
    for (uint32_t step = 1; step <= 80; ++step) {
      std::vector<int> keys;
      for (int i = 0; i < 30; ++i) keys.push_back(std::uniform_int_distribution<int>(0, 399)(random));
      Step(store, entries, keys, step, &model);
      if (take_on_load) {  // what came back hot left the backend
        for (int key : keys) timed.in_backend.erase(StateKey(key % 128, key));
      }
      if (step % 5 == 0) {  // a hot entry dropped for good, with its copy
        const std::string state_key = StateKey(keys[0] % 128, keys[0]);
        const uint32_t id = *entries.Find(state_key);
        store.Remove(id);
        entries.Drop(id);
        model.erase(state_key);
        timed.in_backend.erase(state_key);
      }
      store.FinishStep();
      check_index();
      ASSERT_EQ(metrics.state_entries.load(), static_cast<int64_t>(model.size()));
    }
    ASSERT_GT(store.cold_entries(), 100);
    // Everything up to a time goes: hot entries of those times first (by the operator), then the
    // cold ones by the store.
    const int64_t through_ms = 0;
    for (const auto& [key, time_and_value] : std::map(timed.in_backend)) {
      if (time_and_value.first > through_ms) continue;
      const auto hot = entries.Find(key);
      if (!hot) continue;
      store.Remove(*hot);
      entries.Drop(*hot);
      model.erase(key);
      timed.in_backend.erase(key);
    }
    int64_t cold_through = 0;
    for (auto it = timed.in_backend.begin(); it != timed.in_backend.end();) {
      if (it->second.first <= through_ms) {
        ++cold_through;
        model.erase(it->first);
        it = timed.in_backend.erase(it);
      } else {
        ++it;
      }
    }
    ASSERT_GT(cold_through, 0);
    EXPECT_EQ(store.DropIndexedThrough(through_ms), cold_through);
    store.FinishStep();
    check_index();
    EXPECT_EQ(metrics.state_entries.load(), static_cast<int64_t>(model.size()));
    EXPECT_EQ(SnapshotOf(store).size(), model.size());
  }
}

// A run's checkpoint (issue 17): the hot entries are written out at the barrier and stay hot;
// a store over the restored backend holds exactly the checkpointed entries, all cold, read from
// its bookkeeping at the same key groups and by a scan at others, and reads them back.
TEST_P(KeyedStateStoreConformance, CheckpointRestoresAtTheSameAndOtherKeyGroups) {
  testing::TempDir scratch;
  auto backend = MakeBackend("op1");
  StringEntries entries;
  KeyedStateStore store(*backend, "test_acc", 8000, nullptr, &entries);
  std::map<std::string, std::string> model;
  std::mt19937_64 random(13);
  auto steps = [&](uint32_t from, uint32_t to) {
    for (uint32_t step = from; step <= to; ++step) {
      std::vector<int> keys;
      for (int i = 0; i < 40; ++i) keys.push_back(std::uniform_int_distribution<int>(0, 499)(random));
      Step(store, entries, keys, step, &model);
      store.FinishStep();
    }
  };
  std::map<std::string, std::string> checkpointed;
  const std::string directory = (scratch.path() / "chk").string();
  std::filesystem::create_directories(directory);
  for (int checkpoint = 1; checkpoint <= 3; ++checkpoint) {  // later ones over earlier copies
    steps(checkpoint * 100, checkpoint * 100 + 30);
    ASSERT_GT(store.hot_entries(), 0);
    ASSERT_GT(store.cold_entries(), 0);
    const int64_t hot = store.hot_entries();
    store.WriteHotForCheckpoint(checkpoint * 100 + 30);
    std::filesystem::remove_all(directory + "/db");
    backend->Checkpoint(directory + "/db");
    store.WriteBookkeeping(directory + "/test_acc.store", 0, 128);
    store.CheckpointTaken();
    EXPECT_EQ(store.hot_entries(), hot);  // nothing evicted
    checkpointed = model;
  }
  steps(400, 420);  // the run goes on; the checkpoint does not see it
  ASSERT_EQ(SnapshotOf(store), Contents(model.begin(), model.end()));
  ASSERT_NE(model, checkpointed);

  for (const auto& [first, end] : std::vector<std::pair<int, int>>{{0, 128}, {32, 96}}) {
    SCOPED_TRACE(std::to_string(first) + ".." + std::to_string(end));
    auto restored_backend = environment_->RestoreBackend("restored-" + std::to_string(first), 0,
                                                         {directory + "/db"}, first, end);
    OperatorMetrics metrics("restored");
    StringEntries restored_entries;
    KeyedStateStore restored(*restored_backend, "test_acc", 8000, &metrics, &restored_entries);
    const bool scanned = restored.Restored({directory + "/test_acc.store"}, first, end);
    EXPECT_EQ(scanned, first != 0);  // the bookkeeping holds for the same key groups only
    Contents expected;
    for (const auto& entry : checkpointed) {
      const int key_group = ReadKeyGroup(entry.first);
      if (key_group >= first && key_group < end) expected.push_back(entry);
    }
    EXPECT_EQ(restored.cold_entries(), static_cast<int64_t>(expected.size()));
    EXPECT_EQ(restored.hot_entries(), 0);
    EXPECT_EQ(metrics.state_entries.load(), static_cast<int64_t>(expected.size()));
    EXPECT_EQ(SnapshotOf(restored), expected);
    // Every key of the range is found (or known absent) through the restored key filter.
    std::map<std::string, std::string> restored_model(expected.begin(), expected.end());
    std::vector<int> keys;
    for (int key = 0; key < 500; ++key) {
      if (key % 128 >= first && key % 128 < end) keys.push_back(key);
    }
    Step(restored, restored_entries, keys, 1, &restored_model);
    restored.FinishStep();
    EXPECT_EQ(SnapshotOf(restored), Contents(restored_model.begin(), restored_model.end()));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyedStateStoreConformance, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace millstream
