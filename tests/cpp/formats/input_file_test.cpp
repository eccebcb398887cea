// Input files are read by ranges, as they were when their source was declared: a file that
// shrinks or is replaced under a run is an error naming it (never a SIGBUS, as a mapping gave),
// pseudo-files are read whole, and pipes are refused.
#include "formats/input_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "text_file_testing.h"  // tests/cpp/formats/

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

TEST(InputFile, ReadsRangesHeadsLineStartsAndNewlines) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("a.txt"), "one\ntwo\nthree\nfour");
  auto file = InputFile::Open(path);
  EXPECT_EQ(file->size(), 18);
  std::string bytes(5, '\0');
  file->ReadAt(4, 5, bytes.data());
  EXPECT_EQ(bytes, "two\nt");
  EXPECT_EQ(file->ReadHead(10), "one\ntwo\n");     // cut after the last whole line
  EXPECT_EQ(file->ReadHead(2), "one\n");           // a first line longer than asked: whole
  EXPECT_EQ(file->ReadHead(100), "one\ntwo\nthree\nfour");
  EXPECT_EQ(file->NextLineStart(0), 0);
  EXPECT_EQ(file->NextLineStart(4), 4);            // already a line start
  EXPECT_EQ(file->NextLineStart(5), 8);
  EXPECT_EQ(file->NextLineStart(15), 18);          // no line starts after "four"
  EXPECT_EQ(file->CountNewlines(0, 18), 3);
  EXPECT_EQ(file->CountNewlines(4, 8), 1);
}

TEST(InputFile, ReadsOnlyWhatTheFileHadWhenOpened) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("a.txt"), "one\n");
  auto file = InputFile::Open(path);
  WriteFile(path, "one\ntwo\n");  // rows appended after the source was declared are not read
  EXPECT_EQ(file->size(), 4);
  EXPECT_EQ(file->ReadHead(100), "one\n");
}

TEST(InputFile, AFileThatShrankIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("rotated.jsonl"), std::string(10000, 'x'));
  auto file = InputFile::Open(path);
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  std::string bytes(1000, '\0');
  const std::string error = UserErrorOf([&] { file->ReadAt(0, 1000, bytes.data()); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("shrank to 100 bytes"), std::string::npos) << error;
  file->ReadAt(0, 100, bytes.data());  // what is still there reads
}

TEST(InputFile, AFileReplacedUnderItsNameIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("log.csv"), "a\n1\n");
  auto file = InputFile::Open(path);
  std::filesystem::rename(path, dir.File("log.csv.1"));
  WriteFile(path, "a\n2\n");
  std::string bytes(4, '\0');
  const std::string error = UserErrorOf([&] { file->ReadAt(0, 4, bytes.data()); });
  EXPECT_NE(error.find(path + "' was replaced"), std::string::npos) << error;
  std::filesystem::remove(path);
  EXPECT_NE(UserErrorOf([&] { file->ReadAt(0, 4, bytes.data()); }).find("moved or deleted"),
            std::string::npos);
}

TEST(InputFile, PseudoFilesAreReadWhole) {
  // /proc files report size 0 but have contents.
  struct stat info {};
  ASSERT_EQ(::stat("/proc/self/status", &info), 0);
  ASSERT_EQ(info.st_size, 0);
  auto file = InputFile::Open("/proc/self/status");
  ASSERT_GT(file->size(), 0);
  const std::string head = file->ReadHead(file->size());
  EXPECT_EQ(head.rfind("Name:", 0), 0u) << head.substr(0, 40);
}

TEST(InputFile, PipesAndDirectoriesAreRefusedByName) {
  TempDir dir;
  const std::string fifo = dir.File("events.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening does not wait for a writer.
  const std::string error = UserErrorOf([&] { InputFile::Open(fifo); });
  EXPECT_NE(error.find(fifo + "': it is a pipe (FIFO)"), std::string::npos) << error;
  EXPECT_NE(UserErrorOf([&] { InputFile::Open(dir.path().string()); }).find("is a directory"),
            std::string::npos);
  EXPECT_NE(UserErrorOf([&] { InputFile::Open(dir.File("missing")); }).find("cannot open"),
            std::string::npos);
}

}  // namespace
}  // namespace millstream
