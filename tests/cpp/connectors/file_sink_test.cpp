// File sinks: exact text for CSV and JSON Lines, round trips through our sources (and through
// Arrow's readers as independent references), and the temp-file protocol.
#include "connectors/file_sink.h"

#include <arrow/io/file.h>
#include <arrow/json/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <unistd.h>

#include <random>

#include "../formats/text_file_testing.h"
#include "connectors/file_source.h"

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

SchemaPtr AllTypes() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64()),
                        arrow::field("name", arrow::utf8()), arrow::field("ok", arrow::boolean()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"))});
}

// Rows with every awkward value: nulls in each column, empty strings, delimiters, quotes,
// newlines and control characters inside strings, non-ASCII text, extreme numbers.
BatchPtr AwkwardBatch(int64_t rows, uint64_t seed) {
  std::mt19937_64 random(seed);
  const std::vector<std::string> names = {"plain", "", "a,b", "say \"hi\"", "two\nlines", "tab\there",
                                          "caf\xC3\xA9 \xE2\x82\xAC", "back\\slash", "\x01\x1f", " lead"};
  const std::vector<double> prices = {0.1, -0.0, 1e300, -2.5e-300, 123456789.125, 3.0};
  arrow::Int64Builder ids;
  arrow::DoubleBuilder price_builder;
  arrow::StringBuilder name_builder;
  arrow::BooleanBuilder ok_builder;
  arrow::TimestampBuilder ts_builder(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"),
                                     arrow::default_memory_pool());
  for (int64_t row = 0; row < rows; ++row) {
    const bool null_row = random() % 7 == 0;
    CheckArrow(row % 11 == 5 ? ids.AppendNull()
                             : ids.Append(row % 3 == 0 ? INT64_MIN + static_cast<int64_t>(row) : row),
               "id");
    CheckArrow(null_row ? price_builder.AppendNull() : price_builder.Append(prices[random() % prices.size()]),
               "price");
    CheckArrow(random() % 5 == 0 ? name_builder.AppendNull() : name_builder.Append(names[random() % names.size()]),
               "name");
    CheckArrow(null_row ? ok_builder.AppendNull() : ok_builder.Append(random() % 2 == 0), "ok");
    CheckArrow(random() % 6 == 0 ? ts_builder.AppendNull()
                                 : ts_builder.Append(static_cast<int64_t>(random() % 4000000000000) -
                                                     1000000000000),
               "ts");
  }
  std::vector<std::shared_ptr<arrow::Array>> columns = {
      CheckArrow(ids.Finish(), "ids"), CheckArrow(price_builder.Finish(), "prices"),
      CheckArrow(name_builder.Finish(), "names"), CheckArrow(ok_builder.Finish(), "oks"),
      CheckArrow(ts_builder.Finish(), "ts")};
  return arrow::RecordBatch::Make(AllTypes(), rows, columns);
}

TEST(FileSink, CsvTextIsRfc4180WithNullsAsEmptyFields) {
  TempDir dir;
  auto schema = arrow::schema({arrow::field("a,b", arrow::int64()), arrow::field("s", arrow::utf8()),
                               arrow::field("t", arrow::timestamp(arrow::TimeUnit::MICRO))});
  auto batch = arrow::RecordBatch::Make(
      schema, 3,
      {CheckArrow(arrow::json::ArrayFromJSONString(arrow::int64(), "[1, null, -3]"), "a"),
       CheckArrow(arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["x\"y", "", null])"), "s"),
       CheckArrow(arrow::json::ArrayFromJSONString(arrow::timestamp(arrow::TimeUnit::MICRO),
                                       "[1704164645123456, 0, null]"),
                  "t")});
  const std::string path = dir.File("out.csv");
  auto sink = MakeCsvSink(path, schema);
  sink->Write(batch);
  sink->Finish();
  EXPECT_EQ(ReadFileBytes(path),
            "\"a,b\",s,t\n"
            "1,\"x\"\"y\",2024-01-02T03:04:05.123456\n"
            ",\"\",1970-01-01T00:00:00\n"
            "-3,,\n");
}

TEST(FileSink, JsonlTextHasNullsAndIsoTimestamps) {
  TempDir dir;
  auto schema = arrow::schema({arrow::field("n", arrow::float64()), arrow::field("s", arrow::utf8()),
                               arrow::field("t", arrow::timestamp(arrow::TimeUnit::SECOND, "UTC"))});
  auto batch = arrow::RecordBatch::Make(
      schema, 2,
      {CheckArrow(arrow::json::ArrayFromJSONString(arrow::float64(), "[0.1, null]"), "n"),
       CheckArrow(arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["a\"\n\u0001", null])"), "s"),
       CheckArrow(arrow::json::ArrayFromJSONString(arrow::timestamp(arrow::TimeUnit::SECOND, "UTC"),
                                       "[1704164645, null]"),
                  "t")});
  const std::string path = dir.File("out.jsonl");
  auto sink = MakeJsonlSink(path, schema);
  sink->Write(batch);
  sink->Finish();
  EXPECT_EQ(ReadFileBytes(path),
            "{\"n\":0.1,\"s\":\"a\\\"\\n\\u0001\",\"t\":\"2024-01-02T03:04:05Z\"}\n"
            "{\"n\":null,\"s\":null,\"t\":null}\n");
}

// Write with our sink, read back with our source: every value comes back, for several batches.
TEST(FileSink, RoundTripsThroughTheSources) {
  TempDir dir;
  std::vector<BatchPtr> batches = {AwkwardBatch(700, 1), AwkwardBatch(1, 2), AwkwardBatch(300, 3)};
  auto expected = CheckArrow(arrow::Table::FromRecordBatches(AllTypes(), batches), "expected");
  struct Case {
    std::string file;
    std::function<std::unique_ptr<FileSink>(const std::string&)> sink;
    std::function<std::shared_ptr<Source>(const std::string&)> source;
  };
  const std::vector<Case> cases = {
      {"out.csv", [](const std::string& p) { return MakeCsvSink(p, AllTypes()); },
       [](const std::string& p) {
         SourceOptions options;
         options.on_error = OnError::kDeadLetter;
         return MakeCsvSource(p, AllTypes(), options);
       }},
      {"out.jsonl", [](const std::string& p) { return MakeJsonlSink(p, AllTypes()); },
       [](const std::string& p) { return MakeJsonlSource(p, AllTypes(), {}); }},
      {"out.parquet", [](const std::string& p) { return MakeParquetSink(p, AllTypes()); },
       [](const std::string& p) { return MakeParquetSource(p, {}); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string path = dir.File(c.file);
    auto sink = c.sink(path);
    for (const auto& batch : batches) sink->Write(batch);
    sink->Finish();
    for (const int splits : {1, 3}) {
      auto source = c.source(path);
      ASSERT_TRUE(source->schema()->Equals(*AllTypes())) << source->schema()->ToString();
      auto got = ReadAll(*source, splits);
      if (c.file != "out.csv") {
        EXPECT_TRUE(got.rows->Equals(*expected));
        continue;
      }
      // A newline inside a string cannot be read back from CSV (see csv_fields.h): such a row
      // becomes two bad lines (an unterminated quote, then a line that starts mid-string); the
      // other rows come back (CsvRoundTripWithoutNewlinesInStrings checks their values).
      int64_t rows_with_newlines = 0;
      for (const auto& batch : batches) {
        auto names = std::static_pointer_cast<arrow::StringArray>(batch->column(2));
        for (int64_t i = 0; i < names->length(); ++i) {
          rows_with_newlines += names->IsValid(i) && names->GetView(i).find('\n') != std::string_view::npos;
        }
      }
      EXPECT_GT(rows_with_newlines, 0);
      EXPECT_EQ(got.rows->num_rows(), expected->num_rows() - rows_with_newlines);
      EXPECT_EQ(got.dead_letters->num_rows(), 2 * rows_with_newlines);
    }
  }
}

TEST(FileSink, CsvRoundTripWithoutNewlinesInStrings) {
  TempDir dir;
  auto batch = AwkwardBatch(1000, 4);
  // Replace the strings holding a newline by nulls: everything else must survive read_csv.
  auto names = std::static_pointer_cast<arrow::StringArray>(batch->column(2));
  arrow::StringBuilder builder;
  for (int64_t i = 0; i < names->length(); ++i) {
    if (names->IsNull(i) || names->GetView(i).find('\n') != std::string_view::npos) {
      CheckArrow(builder.AppendNull(), "null");
    } else {
      CheckArrow(builder.Append(names->GetView(i)), "name");
    }
  }
  batch = CheckArrow(batch->SetColumn(2, batch->schema()->field(2), CheckArrow(builder.Finish(), "names")),
                     "set");
  const std::string path = dir.File("out.csv");
  auto sink = MakeCsvSink(path, AllTypes());
  sink->Write(batch);
  sink->Finish();
  auto got = ReadAll(*MakeCsvSource(path, AllTypes(), {}), 4);
  auto expected = CheckArrow(arrow::Table::FromRecordBatches({batch}), "expected");
  EXPECT_TRUE(got.rows->Equals(*expected));
  EXPECT_EQ(got.dead_letters->num_rows(), 0);

  // Arrow's CSV reader, as an independent reader, agrees on the values.
  auto reference = ArrowCsvReference(path, AllTypes());
  EXPECT_TRUE(reference->Equals(*expected)) << reference->Slice(0, 3)->ToString();
}

TEST(FileSink, JsonlIsReadableByArrowsJsonReader) {
  TempDir dir;
  auto batch = AwkwardBatch(500, 5);
  const std::string path = dir.File("out.jsonl");
  auto sink = MakeJsonlSink(path, AllTypes());
  sink->Write(batch);
  sink->Finish();
  auto input = CheckArrow(arrow::io::ReadableFile::Open(path), "open");
  auto parse = arrow::json::ParseOptions::Defaults();
  parse.explicit_schema = arrow::schema({arrow::field("id", arrow::int64()),
                                         arrow::field("price", arrow::float64()),
                                         arrow::field("name", arrow::utf8()),
                                         arrow::field("ok", arrow::boolean())});
  parse.unexpected_field_behavior = arrow::json::UnexpectedFieldBehavior::Ignore;
  auto reader = CheckArrow(arrow::json::TableReader::Make(arrow::default_memory_pool(), input,
                                                          arrow::json::ReadOptions::Defaults(), parse),
                           "reader");
  auto reference = CheckArrow(reader->Read(), "read");
  auto expected = CheckArrow(CheckArrow(arrow::Table::FromRecordBatches({batch}), "t")->RemoveColumn(4),
                             "drop ts");
  EXPECT_TRUE(reference->Equals(*expected));
}

TEST(FileSink, TempFileUntilFinishNothingAfterAbort) {
  TempDir dir;
  const std::string temp_suffix = ".tmp-" + std::to_string(::getpid());
  for (const std::string name : {"a.csv", "a.jsonl", "a.parquet"}) {
    SCOPED_TRACE(name);
    const std::string path = dir.File(name);
    auto make = [&] {
      if (name == "a.csv") return MakeCsvSink(path, AllTypes());
      if (name == "a.jsonl") return MakeJsonlSink(path, AllTypes());
      return MakeParquetSink(path, AllTypes());
    };
    {
      auto sink = make();
      sink->Write(AwkwardBatch(100, 6));
      EXPECT_TRUE(std::filesystem::exists(path + temp_suffix));
      EXPECT_FALSE(std::filesystem::exists(path));
      sink->Finish();
      EXPECT_TRUE(std::filesystem::exists(path));
      EXPECT_FALSE(std::filesystem::exists(path + temp_suffix));
    }
    std::filesystem::remove(path);
    {
      auto sink = make();
      sink->Write(AwkwardBatch(100, 6));
      sink->Abort();
    }
    {
      auto sink = make();
      sink->Write(AwkwardBatch(100, 6));
      // Destroyed without Finish(): a failed run.
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  }
}

TEST(FileSink, UnwritableDirectoryAndUnsupportedTypesAreUserErrors) {
  TempDir dir;
  const std::string message = UserErrorOf([&] { MakeCsvSink(dir.File("no/such/dir.csv"), AllTypes()); });
  EXPECT_NE(message.find("cannot create '" + dir.File("no/such/dir.csv")), std::string::npos) << message;
  EXPECT_NE(UserErrorOf([&] { MakeParquetSink(dir.File("no/such/dir.parquet"), AllTypes()); }), "");
  auto listy = arrow::schema({arrow::field("l", arrow::list(arrow::int64()))});
  EXPECT_EQ(UserErrorOf([&] { MakeJsonlSink(dir.File("l.jsonl"), listy); }),
            "write_jsonl(" + dir.File("l.jsonl") +
                "): column 'l' has type list<item: int64>, which JSON Lines cannot hold (cast it to "
                "a string first, or write Parquet)");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// ---- checkpoints: PrepareCheckpoint / Restore ---------------------------------------------------

std::shared_ptr<arrow::Table> ReadParquetTable(const std::string& path) {
  auto input = CheckArrow(arrow::io::ReadableFile::Open(path), "open");
  auto reader = CheckArrow(parquet::arrow::OpenFile(input, arrow::default_memory_pool()), "reader");
  return CheckArrow(reader->ReadTable(), "read");
}

std::unique_ptr<FileSink> MakeSinkFor(const std::string& path) {
  if (path.ends_with(".csv")) return MakeCsvSink(path, AllTypes());
  if (path.ends_with(".jsonl")) return MakeJsonlSink(path, AllTypes());
  return MakeParquetSink(path, AllTypes());
}

// The file a run without checkpoints writes: "clean-<name>" in `dir`.
std::string WriteCleanRun(const TempDir& dir, const std::string& name,
                          const std::vector<BatchPtr>& batches) {
  const std::string clean_path = dir.File("clean-" + name);
  auto sink = MakeSinkFor(clean_path);
  for (const auto& batch : batches) sink->Write(batch);
  sink->Finish();
  return clean_path;
}

// Byte for byte for text; the same rows in order, and the schema, for Parquet (its row groups
// may be cut elsewhere).
void ExpectSameOutput(const std::string& path, const std::string& clean_path) {
  if (path.ends_with(".parquet")) {
    auto restored = ReadParquetTable(path);
    EXPECT_EQ(restored->num_rows(), ReadParquetTable(clean_path)->num_rows());
    EXPECT_TRUE(restored->Equals(*ReadParquetTable(clean_path)));
    EXPECT_TRUE(restored->schema()->Equals(*AllTypes()));
  } else {
    EXPECT_EQ(ReadFileBytes(path), ReadFileBytes(clean_path));
  }
}

std::string CheckpointDir(const TempDir& dir, int64_t id) {
  const std::string path = dir.File("chk-" + std::to_string(id));
  std::filesystem::create_directories(path);
  return path;
}

// A run killed after checkpoints and restored (twice from the same checkpoint, the first restored
// run killed too) writes the file a run without the kill writes: byte for byte for text, the same
// rows in order for Parquet.
TEST(FileSink, RestoredAfterAKillTheFileIsAsIfNothingHappened) {
  std::vector<BatchPtr> batches;
  for (uint64_t seed = 0; seed < 10; ++seed) batches.push_back(AwkwardBatch(50 + 13 * seed, seed));
  const BatchPtr lost = AwkwardBatch(77, 99);  // written after the checkpoint, then killed
  for (const std::string name : {"a.csv", "a.jsonl", "a.parquet"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    const std::string clean_path = WriteCleanRun(dir, name, batches);
    const std::string path = dir.File(name);
    RunAndDie([&] {
      auto sink = MakeSinkFor(path);
      for (size_t i = 0; i < 3; ++i) sink->Write(batches[i]);
      sink->PrepareCheckpoint({1, CheckpointDir(dir, 1), ""});
      sink->Write(batches[3]);
      sink->PrepareCheckpoint({2, CheckpointDir(dir, 2), dir.File("chk-1")});
      sink->Write(lost);
      sink->Write(lost);
      return sink;
    });
    RunAndDie([&] {
      auto sink = MakeSinkFor(path);
      sink->Restore(dir.File("chk-2"));
      sink->Write(batches[4]);
      sink->Write(lost);
      return sink;
    });
    {
      auto sink = MakeSinkFor(path);
      sink->Restore(dir.File("chk-2"));
      for (size_t i = 4; i < batches.size(); ++i) sink->Write(batches[i]);
      sink->Finish();
    }
    ExpectSameOutput(path, clean_path);
    // No temporary or staged file is left beside the output.
    std::vector<std::string> left;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      if (entry.is_regular_file()) left.push_back(entry.path().filename().string());
    }
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{name, "clean-" + name}));
  }
}

// A run that fails in this process (Abort) after a checkpoint is restored by the next sink of
// the same process: the checkpoint's output survives the Abort and the new sink's temp file.
TEST(FileSink, AFailedRunRestoredInTheSameProcessWritesTheCleanFile) {
  std::vector<BatchPtr> batches;
  for (uint64_t seed = 0; seed < 4; ++seed) batches.push_back(AwkwardBatch(40, seed));
  for (const std::string name : {"a.csv", "a.jsonl", "a.parquet"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    const std::string clean_path = WriteCleanRun(dir, name, batches);
    const std::string path = dir.File(name);
    {
      auto sink = MakeSinkFor(path);
      sink->Write(batches[0]);
      sink->Write(batches[1]);
      sink->PrepareCheckpoint({1, CheckpointDir(dir, 1), ""});
      sink->Write(batches[2]);
      sink->Abort();  // the run failed
    }
    {
      auto sink = MakeSinkFor(path);
      sink->Restore(dir.File("chk-1"));
      sink->Write(batches[2]);
      sink->Write(batches[3]);
      sink->Finish();
    }
    ExpectSameOutput(path, clean_path);
  }
}

// A sink whose inputs all ended finishes before the run does (other sinks still write), and the
// run's later checkpoints include it; so does a run killed after a sink finished but before a
// checkpoint said so. A restore from either leaves the final file as it is, and the rows the
// restored run gives the sink again are not written twice.
TEST(FileSink, ACheckpointAfterFinishOrAKillAfterFinishLeavesTheFinalFile) {
  std::vector<BatchPtr> batches;
  for (uint64_t seed = 0; seed < 4; ++seed) batches.push_back(AwkwardBatch(40, seed));
  for (const std::string name : {"a.csv", "a.jsonl", "a.parquet"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    const std::string clean_path = WriteCleanRun(dir, name, batches);
    const std::string path = dir.File(name);
    RunAndDie([&] {
      auto sink = MakeSinkFor(path);
      sink->Write(batches[0]);
      sink->Write(batches[1]);
      sink->PrepareCheckpoint({1, CheckpointDir(dir, 1), ""});  // pending
      sink->Write(batches[2]);
      sink->Write(batches[3]);
      sink->Finish();
      sink->PrepareCheckpoint({2, CheckpointDir(dir, 2), dir.File("chk-1")});  // final
      return sink;
    });
    ExpectSameOutput(path, clean_path);
    // From the checkpoint taken after Finish: nothing is written again.
    {
      auto sink = MakeSinkFor(path);
      sink->Restore(dir.File("chk-2"));
      sink->Finish();
    }
    ExpectSameOutput(path, clean_path);
    // From the checkpoint taken before Finish: the rows after it come again.
    {
      auto sink = MakeSinkFor(path);
      sink->Restore(dir.File("chk-1"));
      sink->Write(batches[2]);
      sink->Write(batches[3]);
      sink->Finish();
    }
    ExpectSameOutput(path, clean_path);
  }
}

TEST(FileSink, RestoringWithoutThePendingFileIsAUserErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.File("a.csv");
  RunAndDie([&] {
    auto sink = MakeCsvSink(path, AllTypes());
    sink->Write(AwkwardBatch(40, 1));
    sink->PrepareCheckpoint({1, CheckpointDir(dir, 1), ""});
    return sink;
  });
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().starts_with("a.csv.pending-")) std::filesystem::remove(entry);
  }
  auto sink = MakeCsvSink(path, AllTypes());
  const std::string error = UserErrorOf([&] { sink->Restore(dir.File("chk-1")); });
  EXPECT_NE(error.find("cannot restore the output '" + path + "'"), std::string::npos) << error;
  EXPECT_NE(error.find("pending file"), std::string::npos) << error;
}

}  // namespace
}  // namespace millstream
