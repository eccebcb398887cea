// StateBackend::Checkpoint and StateEnvironment::RestoreBackend, one suite over both backends:
// a restored backend holds exactly the checkpointed entries of its key groups (whatever was
// written after the checkpoint), at the same range and rescaled to others. Each result is
// checked against a std::map of what the state should be.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../formats/text_file_testing.h"  // TempDir
#include "core/error.h"
#include "core/key_groups.h"
#include "state/state_backend.h"
#include "state/state_factory.h"

namespace millstream {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
// Per column family name: key -> value.
using Contents = std::map<std::string, std::map<std::string, std::string>>;

const std::vector<std::string> kFamilies = {"acc", "timer"};

std::string Key(int key_group, const std::string& rest) {
  std::string key;
  AppendKeyGroup(key_group, &key);
  return key + rest;
}

class StateBackendCheckpoint : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    StateOptions options;
    options.kind = GetParam();
    options.cache_bytes = 16 << 20;
    options.directory = (scratch_.path() / "state").string();
    environment_ = StateEnvironment::Create(options);
  }

  // Random puts (and deletes of earlier keys) into key groups [first, end) of `state`,
  // mirrored in `expected`.
  void Fill(StateBackend& state, Contents* expected, int first, int end, int n, uint32_t seed) {
    std::mt19937 random(seed);
    for (int i = 0; i < n; ++i) {
      const std::string& family = kFamilies[random() % kFamilies.size()];
      const int cf = state.ColumnFamily(family);
      const int key_group = first + static_cast<int>(random() % (end - first));
      const std::string key = Key(key_group, "k" + std::to_string(random() % 500));
      if (random() % 5 == 0) {
        state.Delete(cf, key);
        (*expected)[family].erase(key);
      } else {
        const std::string value(random() % 40, static_cast<char>('a' + random() % 26));
        state.Put(cf, key, value);
        (*expected)[family][key] = value;
      }
      if (random() % 50 == 0) state.Commit();
    }
    state.Commit();
  }

  static Contents Read(StateBackend& state) {
    Contents contents;
    for (const std::string& family : kFamilies) {
      const int cf = state.ColumnFamily(family);
      auto& entries = contents[family];
      for (auto it = state.Scan(cf, "", ""); it->Valid(); it->Next()) {
        entries.emplace(std::string(it->key()), std::string(it->value()));
      }
    }
    return contents;
  }

  static Contents OnlyKeyGroups(const Contents& contents, int first, int end) {
    Contents only;
    for (const auto& [family, entries] : contents) {
      auto& kept = only[family];
      for (const auto& [key, value] : entries) {
        const int key_group = ReadKeyGroup(key);
        if (key_group >= first && key_group < end) kept.emplace(key, value);
      }
    }
    return only;
  }

  std::string CheckpointDirectory(const std::string& name) {
    return (scratch_.path() / "checkpoints" / name).string();
  }

  // Checkpoint into a new directory (its parent made by the runtime in a real run).
  std::string Checkpoint(StateBackend& state, const std::string& name) {
    const std::string directory = CheckpointDirectory(name);
    fs::create_directories(fs::path(directory).parent_path());
    state.Checkpoint(directory);
    return directory;
  }

  TempDir scratch_;
  std::shared_ptr<StateEnvironment> environment_;
};

TEST_P(StateBackendCheckpoint, RestoreEqualsTheCheckpointedStateNotWhatCameAfter) {
  auto state = environment_->MakeBackend("op1", 0);
  Contents expected;
  Fill(*state, &expected, 0, 128, 3000, 1);
  const std::string checkpoint = Checkpoint(*state, "chk-1");
  Contents after = expected;
  Fill(*state, &after, 0, 128, 2000, 2);  // the run goes on after the barrier
  ASSERT_NE(after, expected);
  EXPECT_EQ(Read(*state), after);  // the checkpoint did not disturb the live state

  auto restored = environment_->RestoreBackend("restored", 1, {checkpoint}, 0, 128);
  EXPECT_EQ(restored->kind(), GetParam());
  EXPECT_EQ(Read(*restored), expected);
  // A restored backend is an ordinary one: written, checkpointed and restored again.
  Fill(*restored, &expected, 0, 128, 1000, 3);
  const std::string second = Checkpoint(*restored, "chk-2");
  auto again = environment_->RestoreBackend("restored", 2, {second}, 0, 128);
  EXPECT_EQ(Read(*again), expected);
}

TEST_P(StateBackendCheckpoint, RestoresOnlyItsKeyGroups) {
  auto state = environment_->MakeBackend("op1", 0);
  Contents expected;
  Fill(*state, &expected, 0, 128, 3000, 4);
  // The last key group of all (its keys follow 0xFFFF) and the first.
  const int cf = state->ColumnFamily("acc");
  state->Put(cf, Key(kMaxKeyGroups - 1, "\xff\xff"), "last");
  state->Put(cf, Key(0, ""), "first");
  state->Commit();
  expected["acc"][Key(kMaxKeyGroups - 1, "\xff\xff")] = "last";
  expected["acc"][Key(0, "")] = "first";
  const std::string checkpoint = Checkpoint(*state, "chk-1");
  for (const auto& [first, end] : std::vector<std::pair<int, int>>{
           {32, 96}, {0, 1}, {127, 128}, {0, kMaxKeyGroups - 1}, {1, kMaxKeyGroups}, {64, 64}}) {
    SCOPED_TRACE(std::to_string(first) + ".." + std::to_string(end));
    auto restored = environment_->RestoreBackend("restored", 1, {checkpoint}, first, end);
    EXPECT_EQ(Read(*restored), OnlyKeyGroups(expected, first, end));
  }
}

TEST_P(StateBackendCheckpoint, RescaleTwoToOneIsTheUnion) {
  Contents expected;
  std::vector<std::string> checkpoints;
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto state = environment_->MakeBackend("op1", subtask);
    const auto [first, end] = KeyGroupRange(subtask, 2, 128);
    Fill(*state, &expected, first, end, 2000, 10 + subtask);
    checkpoints.push_back(Checkpoint(*state, "chk-1/subtask-" + std::to_string(subtask)));
  }
  auto restored = environment_->RestoreBackend("restored", 0, checkpoints, 0, 128);
  EXPECT_EQ(Read(*restored), expected);
}

TEST_P(StateBackendCheckpoint, RescaleOneToFourPartitionsTheState) {
  auto state = environment_->MakeBackend("op1", 0);
  Contents expected;
  Fill(*state, &expected, 0, 128, 4000, 20);
  const std::string checkpoint = Checkpoint(*state, "chk-1");
  Contents united;
  for (int subtask = 0; subtask < 4; ++subtask) {
    const auto [first, end] = KeyGroupRange(subtask, 4, 128);
    auto restored = environment_->RestoreBackend("restored", subtask, {checkpoint}, first, end);
    const Contents part = Read(*restored);
    EXPECT_EQ(part, OnlyKeyGroups(expected, first, end));
    for (const auto& [family, entries] : part) united[family].insert(entries.begin(), entries.end());
  }
  EXPECT_EQ(united, expected);
}

TEST_P(StateBackendCheckpoint, ANeverWrittenBackendRestoresEmpty) {
  auto state = environment_->MakeBackend("op1", 0);
  state->ColumnFamily("acc");
  const std::string checkpoint = Checkpoint(*state, "chk-1");
  auto restored = environment_->RestoreBackend("restored", 1, {checkpoint}, 0, 128);
  EXPECT_EQ(Read(*restored), (Contents{{"acc", {}}, {"timer", {}}}));
}

TEST_P(StateBackendCheckpoint, RestoringLeavesTheCheckpointAsItWas) {
  auto state = environment_->MakeBackend("op1", 0);
  Contents expected;
  Fill(*state, &expected, 0, 128, 2000, 30);
  const std::string checkpoint = Checkpoint(*state, "chk-1");
  auto listing = [&] {
    std::map<std::string, uintmax_t> files;
    for (const auto& entry : fs::directory_iterator(checkpoint)) {
      files[entry.path().filename().string()] = entry.file_size();
    }
    return files;
  };
  const auto before = listing();
  {
    auto restored = environment_->RestoreBackend("restored", 0, {checkpoint}, 0, 64);
    Fill(*restored, &expected, 0, 64, 3000, 31);
    restored->Commit();
  }
  EXPECT_EQ(listing(), before);
  auto again = environment_->RestoreBackend("restored", 1, {checkpoint}, 64, 128);
  Contents original;
  Fill(*environment_->MakeBackend("op2", 0), &original, 0, 128, 2000, 30);  // same seed, same state
  EXPECT_EQ(Read(*again), OnlyKeyGroups(original, 64, 128));
}

TEST_P(StateBackendCheckpoint, ADamagedCheckpointIsRefusedWithItsPath) {
  auto state = environment_->MakeBackend("op1", 0);
  Contents expected;
  Fill(*state, &expected, 0, 128, 500, 40);
  const std::string checkpoint = Checkpoint(*state, "chk-1");
  // Cut the largest file short (memory: a column family's entries; rocksdb: an SST or MANIFEST)
  // or, for rocksdb, drop CURRENT.
  if (GetParam() == "rocksdb") {
    fs::remove(fs::path(checkpoint) / "CURRENT");
  } else {
    fs::path largest;
    for (const auto& entry : fs::directory_iterator(checkpoint)) {
      if (largest.empty() || entry.file_size() > fs::file_size(largest)) largest = entry.path();
    }
    fs::resize_file(largest, fs::file_size(largest) - 3);
  }
  try {
    environment_->RestoreBackend("restored", 1, {checkpoint}, 0, 128);
    FAIL() << "a damaged checkpoint was restored";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find(checkpoint), std::string::npos) << error.what();
  }
  EXPECT_THROW(environment_->RestoreBackend("restored", 1, {CheckpointDirectory("missing")}, 0, 128),
               UserError);
}

INSTANTIATE_TEST_SUITE_P(Backends, StateBackendCheckpoint, ::testing::Values("memory", "rocksdb"));

}  // namespace
}  // namespace millstream
