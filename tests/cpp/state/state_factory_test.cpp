#include "state/state_factory.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "state/rocksdb_backend.h"

namespace millstream {
namespace {

namespace fs = std::filesystem;

StateOptions RocksDbOptions(const std::string& directory = "") {
  StateOptions options;
  options.kind = "rocksdb";
  options.directory = directory;
  options.cache_bytes = 16 << 20;
  return options;
}

class ScratchDirectory {
 public:
  ScratchDirectory() {
    path_ = (fs::temp_directory_path() / ("millstream-factory-test-" + std::to_string(::getpid()))).string();
    fs::remove_all(path_);
  }
  ~ScratchDirectory() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string& PathOf(const std::unique_ptr<StateBackend>& backend) {
  auto* rocksdb = dynamic_cast<RocksDbBackend*>(backend.get());
  EXPECT_NE(rocksdb, nullptr);
  return rocksdb->path();
}

TEST(StateFactory, MakesTheAskedKind) {
  StateOptions memory;
  EXPECT_EQ(MakeStateBackend(memory, "op1", 0)->kind(), "memory");
  EXPECT_EQ(MakeStateBackend(RocksDbOptions(), "op1", 0)->kind(), "rocksdb");
  StateOptions unknown;
  unknown.kind = "redis";
  EXPECT_THROW(MakeStateBackend(unknown, "op1", 0), UserError);
  StateOptions tiny = RocksDbOptions();
  tiny.cache_bytes = 1000;
  EXPECT_THROW(StateEnvironment::Create(tiny), UserError);
}

TEST(StateFactory, OneDbPerSubtaskUnderTheStateDirectory) {
  ScratchDirectory scratch;
  auto environment = StateEnvironment::Create(RocksDbOptions(scratch.path()));
  auto a = environment->MakeBackend("op3", 0);
  auto b = environment->MakeBackend("op3", 1);
  auto c = environment->MakeBackend("op4", 0);
  EXPECT_EQ(PathOf(a), (fs::absolute(scratch.path()) / "op3" / "subtask-0").string());
  EXPECT_EQ(PathOf(b), (fs::absolute(scratch.path()) / "op3" / "subtask-1").string());
  // The DB is created on its first write, not before (state that fits in memory never opens it).
  const int cf_c = c->ColumnFamily("s");
  std::string ignored;
  EXPECT_FALSE(c->Get(cf_c, "k", &ignored));
  EXPECT_FALSE(c->Scan(cf_c, "", "")->Valid());
  EXPECT_FALSE(fs::exists(fs::path(PathOf(c)) / "CURRENT"));
  c->Put(cf_c, "k", "v");
  EXPECT_TRUE(c->Get(cf_c, "k", &ignored));
  EXPECT_TRUE(fs::exists(fs::path(PathOf(c)) / "CURRENT"));
  // Two live backends on one path: two runs on one state directory.
  EXPECT_THROW(environment->MakeBackend("op3", 0), UserError);
  auto other_run = StateEnvironment::Create(RocksDbOptions(scratch.path()));
  EXPECT_THROW(other_run->MakeBackend("op3", 1), UserError);
  // Separate DBs: a write in one is not in the other.
  const int cf_a = a->ColumnFamily("s");
  const int cf_b = b->ColumnFamily("s");
  a->Put(cf_a, "k", "v");
  a->Commit();
  std::string value;
  EXPECT_FALSE(b->Get(cf_b, "k", &value));
}

TEST(StateFactory, ANewRunStartsFromEmptyState) {
  ScratchDirectory scratch;
  {
    auto backend = MakeStateBackend(RocksDbOptions(scratch.path()), "op1", 0);
    const int cf = backend->ColumnFamily("s");
    backend->Put(cf, "k", "from the first run");
    backend->Commit();
  }
  auto backend = MakeStateBackend(RocksDbOptions(scratch.path()), "op1", 0);
  std::string value;
  EXPECT_FALSE(backend->Get(backend->ColumnFamily("s"), "k", &value));
}

TEST(StateFactory, LeavesForeignFilesAlone) {
  ScratchDirectory scratch;
  const fs::path subtask = fs::path(scratch.path()) / "op1" / "subtask-0";
  fs::create_directories(subtask);
  std::ofstream(subtask / "notes.txt") << "mine";
  EXPECT_THROW(MakeStateBackend(RocksDbOptions(scratch.path()), "op1", 0), UserError);
  EXPECT_TRUE(fs::exists(subtask / "notes.txt"));
}

TEST(StateFactory, TempDirectoryIsSharedByTheRunAndRemovedAfterItsLastBackend) {
  std::string directory;
  {
    auto first = MakeStateBackend(RocksDbOptions(), "op1", 0);
    auto second = MakeStateBackend(RocksDbOptions(), "op2", 0);
    directory = fs::path(PathOf(first)).parent_path().parent_path().string();
    EXPECT_EQ(fs::path(PathOf(second)).parent_path().parent_path().string(), directory);
    EXPECT_NE(directory.find("millstream-state-"), std::string::npos);
    // In a temp directory a path in use gets a sibling rather than an error.
    auto again = MakeStateBackend(RocksDbOptions(), "op1", 0);
    EXPECT_NE(PathOf(again), PathOf(first));
    first.reset();
    EXPECT_TRUE(fs::exists(directory));  // `second` still uses it
  }
  EXPECT_FALSE(fs::exists(directory));
  {
    auto environment = StateEnvironment::Create(RocksDbOptions());
    directory = environment->directory();
    auto backend = environment->MakeBackend("op1", 0);
    environment.reset();
    EXPECT_TRUE(fs::exists(directory));
  }
  EXPECT_FALSE(fs::exists(directory));
}

}  // namespace
}  // namespace millstream
