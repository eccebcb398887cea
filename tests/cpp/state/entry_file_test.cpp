// The checkpoint files of keyed state outside RocksDB: what is written is read back, in order,
// and a file cut short or with a changed byte anywhere is refused with its path.
#include "state/entry_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../formats/text_file_testing.h"  // TempDir, WriteFile, ReadFileBytes
#include "core/error.h"

namespace millstream {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries ReadAll(const std::string& path) {
  Entries entries;
  ReadEntryFile(path, [&](std::string_view key, std::string_view value) {
    entries.emplace_back(std::string(key), std::string(value));
  });
  return entries;
}

Entries RandomEntries(int n, std::mt19937& random) {
  Entries entries;
  for (int i = 0; i < n; ++i) {
    std::string key(random() % 20, '\0'), value(random() % 300, '\0');
    for (char& c : key) c = static_cast<char>(random());
    for (char& c : value) c = static_cast<char>(random());
    entries.emplace_back(std::move(key), std::move(value));  // empty keys and values too
  }
  return entries;
}

TEST(EntryFile, ReadsBackWhatWasWrittenInOrder) {
  testing::TempDir scratch;
  std::mt19937 random(7);
  for (int n : {0, 1, 1000}) {
    const Entries entries = RandomEntries(n, random);
    EntryFileWriter out;
    for (const auto& [key, value] : entries) out.Add(key, value);
    EXPECT_EQ(out.count(), n);
    const std::string path = scratch.File("entries-" + std::to_string(n));
    out.WriteTo(path);
    EXPECT_EQ(ReadAll(path), entries);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  }
}

TEST(EntryFile, RefusesADamagedFileNamingIt) {
  testing::TempDir scratch;
  std::mt19937 random(8);
  const Entries entries = RandomEntries(20, random);
  EntryFileWriter out;
  for (const auto& [key, value] : entries) out.Add(key, value);
  const std::string path = scratch.File("state");
  out.WriteTo(path);
  const std::string whole = testing::ReadFileBytes(path);
  auto expect_refused = [&](const std::string& bytes, const std::string& what) {
    testing::WriteFile(path, bytes);
    try {
      ReadAll(path);
      ADD_FAILURE() << what << " was read";
    } catch (const UserError& error) {
      EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
    }
  };
  for (size_t cut = 0; cut < whole.size(); cut += 1 + whole.size() / 97) {
    expect_refused(whole.substr(0, cut), "a file cut at " + std::to_string(cut));
  }
  for (size_t at = 0; at < whole.size(); at += 1 + whole.size() / 89) {
    std::string flipped = whole;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
    expect_refused(flipped, "a byte changed at " + std::to_string(at));
  }
  EXPECT_THROW(ReadAll(scratch.File("missing")), UserError);
}

}  // namespace
}  // namespace millstream
