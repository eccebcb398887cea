// The rolling file sink of unbounded runs: one part per checkpoint, visible once its checkpoint
// completed; a run killed and restored leaves the parts a run without the kill leaves.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "../formats/text_file_testing.h"
#include "connectors/sink.h"

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

SchemaPtr IdSchema() { return arrow::schema({arrow::field("id", arrow::int64())}); }

BatchPtr Ids(int64_t first, int64_t count) {
  arrow::Int64Builder ids;
  for (int64_t id = first; id < first + count; ++id) CheckArrow(ids.Append(id), "id");
  return arrow::RecordBatch::Make(IdSchema(), count, {CheckArrow(ids.Finish(), "ids")});
}

std::unique_ptr<Sink> MakeRolling(const std::string& directory) {
  SinkSettings settings;
  settings.path = directory;
  settings.roll_per_checkpoint = true;
  return FindSinkKind("jsonl")->make(settings, IdSchema());
}

SnapshotTarget Checkpoint(const TempDir& dir, int64_t id) {
  const std::string path = dir.File("chk-" + std::to_string(id));
  std::filesystem::create_directories(path);
  return {id, path, ""};
}

std::vector<std::string> NamesIn(const std::string& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(RollingFileSink, PartsAppearWhenTheirCheckpointCompletesAndSurviveAKill) {
  TempDir dir;
  const std::string out = dir.File("out");
  std::string clean_text;
  {
    auto clean = MakeJsonlSink(dir.File("clean.jsonl"), IdSchema());
    for (int64_t i = 0; i < 10; ++i) clean->Write(Ids(i * 10, 10));
    clean->Finish();
    clean_text = ReadFileBytes(dir.File("clean.jsonl"));
  }
  RunAndDie([&] {
    auto sink = MakeRolling(out);
    sink->Write(Ids(0, 10), 0, 0);
    sink->Write(Ids(10, 10), 0, 1);
    sink->PrepareCheckpoint(Checkpoint(dir, 1));
    sink->Write(Ids(20, 10), 0, 2);
    sink->PrepareCheckpoint(Checkpoint(dir, 2));
    sink->CommitCheckpoint(1);
    EXPECT_EQ(NamesIn(out), (std::vector<std::string>{".part-2-0.jsonl.pending", "part-1-0.jsonl"}));
    sink->Write(Ids(30, 10), 0, 3);
    sink->PrepareCheckpoint(Checkpoint(dir, 3));  // never completes
    sink->Write(Ids(999, 3), 0, 4);
    return sink;
  });
  {
    auto sink = MakeRolling(out);
    sink->Restore(dir.File("chk-2"));
    EXPECT_EQ(NamesIn(out), (std::vector<std::string>{"part-1-0.jsonl", "part-2-0.jsonl"}));
    for (int64_t i = 3; i < 6; ++i) sink->Write(Ids(i * 10, 10), 0, i);
    sink->PrepareCheckpoint(Checkpoint(dir, 3));
    sink->CommitCheckpoint(3);
    for (int64_t i = 6; i < 10; ++i) sink->Write(Ids(i * 10, 10), 0, i);
    sink->Finish();  // a stopped run: the rest as the next checkpoint's part
  }
  const std::vector<std::string> parts = {"part-1-0.jsonl", "part-2-0.jsonl", "part-3-0.jsonl",
                                          "part-4-0.jsonl"};
  EXPECT_EQ(NamesIn(out), parts);
  std::string text;
  for (const std::string& part : parts) text += ReadFileBytes(out + "/" + part);
  EXPECT_EQ(text, clean_text);
}

TEST(RollingFileSink, APathThatIsAFileIsAUserError) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("out"), "x");
  const std::string error = UserErrorOf([&] { MakeRolling(path); });
  EXPECT_NE(error.find("cannot write part files into '" + path + "'"), std::string::npos) << error;
}

}  // namespace
}  // namespace millstream
