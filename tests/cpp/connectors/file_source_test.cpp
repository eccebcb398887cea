// File sources as the runtime uses them: globs, splits (the same rows and line numbers for any
// number of splits), batch sizes, metrics, and Parquet row groups.
#include "connectors/file_source.h"

#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>

#include <algorithm>
#include <random>

#include "../formats/text_file_testing.h"

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

// A generated file with its expected content, computed as it is written.
struct Generated {
  std::string text;
  std::vector<std::string> ids;         // of the good rows, in order
  std::vector<std::string> bad_lines;   // physical line numbers of the bad rows
};

// Rows with ids first_id.., some blank lines and some bad rows (a price that is not a number).
Generated GenerateRows(bool csv, int rows, int first_id, uint64_t seed) {
  std::mt19937_64 random(seed);
  Generated generated;
  int line = 0;
  if (csv) {
    generated.text = "id,price,name\n";
    ++line;
  }
  for (int row = 0; row < rows; ++row) {
    if (random() % 23 == 0) {  // a blank line: not a row, but a physical line
      generated.text += random() % 2 ? "\n" : "\r\n";
      ++line;
    }
    const bool bad = random() % 17 == 0;
    const int id = first_id + row;
    const std::string price = bad ? "\"oops\"" : std::to_string(random() % 10000) + ".25";
    const std::string name(1 + random() % 40, static_cast<char>('a' + random() % 26));
    if (csv) {
      generated.text += std::to_string(id) + "," + (bad ? "oops" : price) + "," + name + "\n";
    } else {
      generated.text += "{\"id\": " + std::to_string(id) + ", \"price\": " + price +
                        ", \"name\": \"" + name + "\"}\n";
    }
    ++line;
    if (bad) {
      generated.bad_lines.push_back(std::to_string(line));
    } else {
      generated.ids.push_back(std::to_string(id));
    }
  }
  return generated;
}

class SplitsTest : public ::testing::TestWithParam<bool> {};

TEST_P(SplitsTest, SameRowsAndLineNumbersForAnyNumberOfSplits) {
  const bool csv = GetParam();
  TempDir dir;
  const Generated generated = GenerateRows(csv, 3000, 1, 7);
  const std::string path = WriteFile(dir.File(csv ? "rows.csv" : "rows.jsonl"), generated.text);
  auto make = [&](OnError on_error, int64_t batch_size) {
    return csv ? MakeCsvSource(path, IdPriceNameSchema(), WithOnError(on_error, batch_size))
               : MakeJsonlSource(path, IdPriceNameSchema(), WithOnError(on_error, batch_size));
  };
  for (const int max_splits : {1, 2, 4, 7}) {
    SCOPED_TRACE("splits: " + std::to_string(max_splits));
    OperatorMetrics metrics("read");
    auto result = ReadAll(*make(OnError::kDeadLetter, 100), max_splits, &metrics);
    EXPECT_EQ(result.splits, max_splits);
    EXPECT_EQ(ColumnText(*result.rows, "id"), generated.ids);
    EXPECT_EQ(ColumnText(*result.dead_letters, "line"), generated.bad_lines);
    EXPECT_EQ(metrics.rows_out, static_cast<int64_t>(generated.ids.size()));
    EXPECT_EQ(metrics.rows_dead_letter, static_cast<int64_t>(generated.bad_lines.size()));
    const int64_t header_bytes = csv ? 14 : 0;
    EXPECT_EQ(metrics.bytes_read, static_cast<int64_t>(generated.text.size()) - header_bytes);
    for (const int64_t rows : result.batch_rows) EXPECT_LE(rows, 100);
  }
  // Raised from the last split: the line number counts the lines of the splits before it.
  const std::string message = UserErrorOf([&] {
    auto source = make(OnError::kRaise, 100);
    auto splits = source->CreateSplits(7, nullptr);
    while (!splits.back()->Next().end) {
    }
  });
  // The first bad row of the last split, which starts about 6/7 into the file.
  ASSERT_EQ(message.rfind(path + ":", 0), 0u) << message;
  const std::string line = message.substr(path.size() + 1, message.find(':', path.size() + 1) - path.size() - 1);
  EXPECT_NE(std::find(generated.bad_lines.begin(), generated.bad_lines.end(), line),
            generated.bad_lines.end()) << message;
  EXPECT_GT(std::stoi(line), 2400) << message;
  EXPECT_EQ(message, path + ":" + line + ": field 'price': expected float64, got \"oops\"");
}

// With blocks smaller than a split's share, splits take turns at them: every row once, each
// split in file order, and the splits interleaved (the second starts before the first ends).
TEST_P(SplitsTest, SplitsInterleaveBlocks) {
  const bool csv = GetParam();
  TempDir dir;
  const Generated generated = GenerateRows(csv, 3000, 1, 11);
  const std::string path = WriteFile(dir.File(csv ? "rows.csv" : "rows.jsonl"), generated.text);
  SourceOptions options = WithOnError(OnError::kSkip, 100);
  options.split_block_bytes = 4000;  // ~100 lines
  auto source = csv ? MakeCsvSource(path, IdPriceNameSchema(), options)
                     : MakeJsonlSource(path, IdPriceNameSchema(), options);
  for (const int max_splits : {2, 3, 7}) {
    SCOPED_TRACE("splits: " + std::to_string(max_splits));
    auto splits = ReadEachSplit(*source, max_splits);
    ASSERT_EQ(static_cast<int>(splits.size()), max_splits);
    std::vector<int64_t> all;
    std::vector<std::vector<int64_t>> ids(splits.size());
    for (size_t k = 0; k < splits.size(); ++k) {
      for (const std::string& id : ColumnText(*splits[k], "id")) ids[k].push_back(std::stoll(id));
      EXPECT_TRUE(std::is_sorted(ids[k].begin(), ids[k].end()));
      all.insert(all.end(), ids[k].begin(), ids[k].end());
    }
    std::sort(all.begin(), all.end());
    std::vector<int64_t> expected;
    for (const std::string& id : generated.ids) expected.push_back(std::stoll(id));
    EXPECT_EQ(all, expected);
    EXPECT_LT(ids[1].front(), ids[0].back());
  }
}

// Projection pushdown: a source narrowed to some columns gives exactly those columns of the
// rows the whole source gives, and a bad value in a column it does not read is not looked at.
TEST_P(SplitsTest, WithColumnsReadsTheSameRowsOfFewerColumns) {
  const bool csv = GetParam();
  TempDir dir;
  const std::string text = csv ? "id,price,name\n1,2.5,ann\n2,oops,bob\n3,,cy\n"
                               : "{\"id\": 1, \"price\": 2.5, \"name\": \"ann\"}\n"
                                 "{\"name\": \"bob\", \"id\": 2, \"price\": \"oops\"}\n"
                                 "{\"id\": 3, \"name\": \"cy\"}\n";
  const std::string path = WriteFile(dir.File(csv ? "rows.csv" : "rows.jsonl"), text);
  auto whole = csv ? MakeCsvSource(path, IdPriceNameSchema(), WithOnError(OnError::kRaise, 2))
                   : MakeJsonlSource(path, IdPriceNameSchema(), WithOnError(OnError::kRaise, 2));
  auto narrowed = whole->WithColumns({"id", "name"});
  EXPECT_EQ(narrowed->schema()->ToString(), "id: int64\nname: string");
  EXPECT_EQ(whole->schema()->num_fields(), 3);  // the whole source is unchanged
  for (const int max_splits : {1, 2}) {
    auto result = ReadAll(*narrowed, max_splits);
    EXPECT_EQ(ColumnText(*result.rows, "id"), (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(ColumnText(*result.rows, "name"), (std::vector<std::string>{"ann", "bob", "cy"}));
  }
  EXPECT_NE(UserErrorOf([&] { ReadAll(*whole); }).find("expected float64"), std::string::npos);
  const std::string unknown = UserErrorOf([&] { whole->WithColumns({"name", "id"}); });
  EXPECT_NE(unknown.find("asks it to read 'id', which is not one of its columns"),
            std::string::npos) << unknown;
}

TEST(FileSource, CsvWithoutHeaderNarrowedKeepsFieldPositions) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("rows.csv"), "1,2.5,ann\n2,x,bob\n");
  CsvOptions csv;
  csv.header = false;
  auto source = MakeCsvSource(path, IdPriceNameSchema(), WithOnError(OnError::kRaise, 10), csv)
                    ->WithColumns({"name"});
  auto result = ReadAll(*source);
  EXPECT_EQ(ColumnText(*result.rows, "name"), (std::vector<std::string>{"ann", "bob"}));
}

INSTANTIATE_TEST_SUITE_P(JsonlAndCsv, SplitsTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Csv" : "Jsonl"; });

TEST(FileSource, GlobsReadEveryMatchingFileInPathOrder) {
  TempDir dir;
  std::vector<std::string> expected_ids;
  // Written out of order; read in byte order of the paths.
  for (const int part : {2, 0, 10, 1}) {
    const Generated generated = GenerateRows(false, 50 + part, part * 1000, part);
    WriteFile(dir.File("part-" + std::to_string(part) + ".jsonl"), generated.text);
  }
  WriteFile(dir.File("other.txt"), "not a match\n");
  std::filesystem::create_directory(dir.File("dir.jsonl"));  // a directory matching the glob
  for (const int part : {0, 1, 10, 2}) {
    const Generated generated = GenerateRows(false, 50 + part, part * 1000, part);
    expected_ids.insert(expected_ids.end(), generated.ids.begin(), generated.ids.end());
  }
  auto source =
      MakeJsonlSource(dir.File("*.jsonl"), IdPriceNameSchema(), WithOnError(OnError::kSkip, 16));
  EXPECT_EQ(source->name(), "read_jsonl(" + dir.File("*.jsonl") + ")");
  for (const int max_splits : {1, 3, 7}) {
    auto result = ReadAll(*source, max_splits);
    EXPECT_EQ(ColumnText(*result.rows, "id"), expected_ids) << max_splits;
  }
}

TEST(FileSource, MissingFilesAreUserErrorsWhenBuilt) {
  TempDir dir;
  const std::string missing = dir.File("nothing.jsonl");
  EXPECT_EQ(UserErrorOf([&] { MakeJsonlSource(missing, IdPriceNameSchema(), {}); }),
            "cannot read '" + missing + "': No such file or directory");
  const std::string glob = dir.File("*.csv");
  EXPECT_EQ(UserErrorOf([&] { MakeCsvSource(glob, IdPriceNameSchema(), {}); }),
            "no file matches '" + glob + "'");
  EXPECT_NE(UserErrorOf([&] { MakeParquetSource(dir.path().string(), {}); }).find("is a directory"),
            std::string::npos);
}

TEST(FileSource, CsvFilesWithHeadersInDifferentOrders) {
  TempDir dir;
  WriteFile(dir.File("a.csv"), "id,name,price\n1,x,1.5\n2,y,2.5\n");
  WriteFile(dir.File("b.csv"), "price,id,name\n3.5,3,z\n");
  WriteFile(dir.File("c.csv"), "");  // empty: no header, no rows
  for (const int max_splits : {1, 2, 5}) {
    auto result = ReadAll(*MakeCsvSource(dir.File("*.csv"), IdPriceNameSchema(), {}), max_splits);
    EXPECT_EQ(ColumnText(*result.rows, "id"), (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(ColumnText(*result.rows, "price"), (std::vector<std::string>{"1.5", "2.5", "3.5"}));
  }
  // An inferred schema comes from the first file; the others are matched to it by name.
  auto inferred = MakeCsvSource(dir.File("*.csv"), nullptr, {});
  EXPECT_EQ(inferred->schema()->ToString(),
            arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8()),
                           arrow::field("price", arrow::float64())})
                ->ToString());
  EXPECT_EQ(ColumnText(*ReadAll(*inferred).rows, "name"), (std::vector<std::string>{"x", "y", "z"}));
}

TEST(FileSource, BatchesHoldAtMostBatchSizeRows) {
  TempDir dir;
  const Generated generated = GenerateRows(true, 1000, 0, 3);
  const std::string path = WriteFile(dir.File("b.csv"), generated.text);
  auto result = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), WithOnError(OnError::kSkip, 64)), 2);
  int64_t total = 0;
  for (const int64_t rows : result.batch_rows) {
    EXPECT_LE(rows, 64);
    total += rows;
  }
  EXPECT_EQ(total, static_cast<int64_t>(generated.ids.size()));
  // Full batches except at the end of each of the two splits.
  EXPECT_LE(result.batch_rows.size(), (generated.ids.size() + 63) / 64 + 2);
}

TEST(FileSource, BadOptionsAreUserErrors) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("a.csv"), "id\n1\n");
  EXPECT_NE(UserErrorOf([&] { MakeCsvSource(path, nullptr, WithOnError(OnError::kRaise, 0)); })
                .find("batch_size must be positive"),
            std::string::npos);
  CsvOptions quote;
  quote.delimiter = '"';
  EXPECT_NE(UserErrorOf([&] { MakeCsvSource(path, nullptr, {}, quote); }).find("delimiter"),
            std::string::npos);
  EXPECT_EQ(ParseOnError("dead_letter"), OnError::kDeadLetter);
  EXPECT_NE(UserErrorOf([&] { ParseOnError("ignore"); }).find("unknown on_error 'ignore'"),
            std::string::npos);
}

// Log rotation truncates files: a file that shrinks after its source was declared, or while
// its splits read it, is a UserError naming it (it was a SIGBUS while files were mapped).
TEST(FileSource, AFileThatShrinksIsAnErrorNamingItBeforeOrDuringTheRun) {
  TempDir dir;
  for (const bool csv : {false, true}) {
    const Generated generated = GenerateRows(csv, 4000, 0, 7);
    for (const bool during_run : {false, true}) {
      const std::string path = WriteFile(dir.File(csv ? "a.csv" : "a.jsonl"), generated.text);
      SourceOptions options = WithOnError(OnError::kSkip, 64);
      options.split_block_bytes = 4096;
      auto source = csv ? MakeCsvSource(path, IdPriceNameSchema(), options)
                        : MakeJsonlSource(path, IdPriceNameSchema(), options);
      OperatorMetrics metrics("test");
      auto splits = source->CreateSplits(2, &metrics);
      if (during_run) ASSERT_FALSE(splits[0]->Next().end);
      ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(generated.text.size() / 3)), 0);
      const std::string error = UserErrorOf([&] {
        for (auto& split : splits) {
          for (int guard = 0; guard < 100000 && !split->Next().end; ++guard) {
          }
        }
      });
      EXPECT_NE(error.find("'" + path + "' shrank to"), std::string::npos) << error;
    }
  }
}

std::shared_ptr<arrow::Table> RandomTable(int64_t rows, uint64_t seed) {
  std::mt19937_64 random(seed);
  arrow::Int64Builder ids;
  arrow::DoubleBuilder prices;
  arrow::StringBuilder names;
  for (int64_t row = 0; row < rows; ++row) {
    CheckArrow(ids.Append(row), "id");
    CheckArrow(random() % 9 == 0 ? prices.AppendNull() : prices.Append((random() % 1000) / 8.0), "price");
    CheckArrow(names.Append(std::string(random() % 12, 'n')), "name");
  }
  return arrow::Table::Make(IdPriceNameSchema(),
                            {CheckArrow(ids.Finish(), "ids"), CheckArrow(prices.Finish(), "prices"),
                             CheckArrow(names.Finish(), "names")});
}

void WriteParquet(const arrow::Table& table, const std::string& path, int64_t row_group_rows) {
  auto out = CheckArrow(arrow::io::FileOutputStream::Open(path), "open");
  CheckArrow(parquet::arrow::WriteTable(table, arrow::default_memory_pool(), out, row_group_rows),
             "write");
  CheckArrow(out->Close(), "close");
}

TEST(ParquetSource, RowGroupsAsSplitsGiveTheWholeTableForAnyNumberOfSplits) {
  TempDir dir;
  auto first = RandomTable(5000, 1);
  auto second = RandomTable(700, 2);
  WriteParquet(*first, dir.File("a.parquet"), 600);   // 9 row groups
  WriteParquet(*second, dir.File("b.parquet"), 1000);  // 1 row group
  auto source = MakeParquetSource(dir.File("*.parquet"), WithOnError(OnError::kRaise, 256));
  EXPECT_TRUE(source->schema()->Equals(*IdPriceNameSchema()));
  // The row groups in file order: 9 of 600 rows (the last one 200), then one of 700.
  std::vector<std::shared_ptr<arrow::Table>> groups;
  for (int64_t offset = 0; offset < 5000; offset += 600) groups.push_back(first->Slice(offset, 600));
  groups.push_back(second);
  for (const int max_splits : {1, 2, 4, 7, 20}) {
    OperatorMetrics metrics("parquet");
    auto result = ReadAll(*source, max_splits, &metrics);
    EXPECT_EQ(result.splits, std::min(max_splits, 10));
    // Row groups dealt round-robin: split k reads groups k, k + n, k + 2n, ...
    std::vector<std::shared_ptr<arrow::Table>> dealt;
    for (int k = 0; k < result.splits; ++k) {
      for (size_t g = k; g < groups.size(); g += result.splits) dealt.push_back(groups[g]);
    }
    EXPECT_TRUE(result.rows->Equals(*CheckArrow(arrow::ConcatenateTables(dealt), "concatenate")))
        << max_splits;
    EXPECT_EQ(metrics.rows_out, 5700);
    EXPECT_GT(metrics.bytes_read, 0);
    for (const int64_t rows : result.batch_rows) EXPECT_LE(rows, 256);
  }
}

TEST(ParquetSource, OtherSchemasAndOtherFormatsAreUserErrors) {
  TempDir dir;
  WriteParquet(*RandomTable(10, 1), dir.File("a.parquet"), 100);
  auto other = arrow::Table::Make(arrow::schema({arrow::field("x", arrow::int64())}),
                                  {RandomTable(3, 1)->column(0)});
  WriteParquet(*other, dir.File("b.parquet"), 100);
  const std::string mismatch = UserErrorOf([&] { MakeParquetSource(dir.File("*.parquet"), {}); });
  EXPECT_NE(mismatch.find("'" + dir.File("b.parquet") + "' has the schema"), std::string::npos)
      << mismatch;
  const std::string text = WriteFile(dir.File("text.parquet"), "id,price\n1,2\n");
  const std::string unreadable = UserErrorOf([&] { MakeParquetSource(text, {}); });
  EXPECT_EQ(unreadable.rfind("cannot read '" + text + "' as Parquet: ", 0), 0u) << unreadable;
}

TEST(ParquetSource, WithColumnsReadsOnlyThoseColumnChunks) {
  TempDir dir;
  auto table = RandomTable(3000, 5);
  WriteParquet(*table, dir.File("a.parquet"), 1000);
  auto whole = MakeParquetSource(dir.File("a.parquet"), WithOnError(OnError::kRaise, 256));
  auto narrowed = whole->WithColumns({"id", "name"});
  OperatorMetrics whole_metrics("whole"), narrowed_metrics("narrowed");
  auto all = ReadAll(*whole, 2, &whole_metrics);
  auto some = ReadAll(*narrowed, 2, &narrowed_metrics);
  auto expected = CheckArrow(all.rows->SelectColumns({0, 2}), "select");
  EXPECT_TRUE(some.rows->Equals(*expected)) << some.rows->ToString();
  // Only the id and name chunks are read: fewer bytes than the whole row groups.
  EXPECT_GT(narrowed_metrics.bytes_read, 0);
  EXPECT_LT(narrowed_metrics.bytes_read, whole_metrics.bytes_read);
}

TEST(ParquetSource, EmptyTable) {
  TempDir dir;
  WriteParquet(*RandomTable(0, 1), dir.File("e.parquet"), 100);
  auto result = ReadAll(*MakeParquetSource(dir.File("e.parquet"), {}), 4);
  EXPECT_EQ(result.rows->num_rows(), 0);
  EXPECT_EQ(result.splits, 1);
}

// ---- checkpoints: SourceSplit::Position and Source::CreateSplitsAfter --------------------------

// A chunk as a run hands it to sinks: its place in the source's order and its rows.
struct PlacedChunk {
  uint64_t position;
  BatchPtr rows;
  BatchPtr dead_letters;
};

// Reads a source over several "runs": the first from CreateSplits(split_counts[0]), each later
// one from CreateSplitsAfter over the positions the previous run's splits had after reading a
// random number of chunks each (`make_source` builds the source afresh, as a restarted process
// does); the last run reads to the end. Returns every chunk any run returned.
template <typename MakeSource>
std::vector<PlacedChunk> ReadAcrossRestores(MakeSource make_source,
                                            const std::vector<int>& split_counts, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<PlacedChunk> chunks;
  std::vector<std::string> positions;
  for (size_t run = 0; run < split_counts.size(); ++run) {
    auto source = make_source();
    auto splits = run == 0 ? source->CreateSplits(split_counts[run], nullptr)
                           : source->CreateSplitsAfter(positions, split_counts[run], nullptr);
    EXPECT_LE(splits.size(), static_cast<size_t>(split_counts[run]));
    const bool last = run + 1 == split_counts.size();
    positions.clear();
    for (auto& split : splits) {
      const int chunk_limit = last ? 1000000 : static_cast<int>(random() % 12);
      bool ended = false;
      for (int chunk = 0; chunk < chunk_limit && !ended; ++chunk) {
        SplitOutput output = split->Next();
        chunks.push_back({output.position, output.rows, output.dead_letters});
        ended = output.end;
      }
      EXPECT_TRUE(ended || !last);
      positions.push_back(split->Position());
    }
  }
  return chunks;
}

// The chunks in the source's order (ChunkPosition), as an ordering sink puts them; a position
// given to two chunks with rows (rows read twice, or parts numbered again) fails.
std::shared_ptr<arrow::Table> InSourceOrder(std::vector<PlacedChunk> chunks, const SchemaPtr& schema,
                                            bool dead_letters) {
  std::erase_if(chunks, [&](const PlacedChunk& chunk) {
    const BatchPtr& batch = dead_letters ? chunk.dead_letters : chunk.rows;
    return !batch || batch->num_rows() == 0;
  });
  std::stable_sort(chunks.begin(), chunks.end(),
                   [](const PlacedChunk& a, const PlacedChunk& b) { return a.position < b.position; });
  std::vector<BatchPtr> batches;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (!dead_letters && i > 0) {
      EXPECT_NE(chunks[i].position, chunks[i - 1].position) << "two chunks at one position";
    }
    batches.push_back(dead_letters ? chunks[i].dead_letters : chunks[i].rows);
  }
  return CheckArrow(arrow::Table::FromRecordBatches(schema, batches), "chunks");
}

TEST_P(SplitsTest, RestoredSplitsReadTheRestExactlyOnceWithTheirLineNumbers) {
  const bool csv = GetParam();
  TempDir dir;
  // Two files, so that blocks span a file's end.
  const Generated first = GenerateRows(csv, 2500, 1, 11);
  const Generated second = GenerateRows(csv, 1500, 5000, 12);
  WriteFile(dir.File(csv ? "a.csv" : "a.jsonl"), first.text);
  WriteFile(dir.File(csv ? "b.csv" : "b.jsonl"), second.text);
  const std::string glob = dir.File(csv ? "*.csv" : "*.jsonl");
  SourceOptions options = WithOnError(OnError::kDeadLetter, 37);
  options.split_block_bytes = 4096;  // ~60 blocks
  auto make = [&] {
    return csv ? MakeCsvSource(glob, IdPriceNameSchema(), options)
               : MakeJsonlSource(glob, IdPriceNameSchema(), options);
  };
  std::vector<std::string> ids = first.ids;
  ids.insert(ids.end(), second.ids.begin(), second.ids.end());
  std::vector<std::string> lines = first.bad_lines;
  lines.insert(lines.end(), second.bad_lines.begin(), second.bad_lines.end());
  const std::vector<std::vector<int>> histories = {
      {1, 1}, {2, 1}, {2, 4}, {4, 2}, {1, 4, 2}, {4, 1, 3, 2, 1}, {3, 3, 3, 3, 3, 3}};
  for (size_t h = 0; h < histories.size(); ++h) {
    for (uint64_t seed : {1, 2, 3}) {
      SCOPED_TRACE("history " + std::to_string(h) + " seed " + std::to_string(seed));
      auto chunks = ReadAcrossRestores(make, histories[h], seed);
      EXPECT_EQ(ColumnText(*InSourceOrder(chunks, IdPriceNameSchema(), false), "id"), ids);
      EXPECT_EQ(ColumnText(*InSourceOrder(chunks, DeadLetterSchema(), true), "line"), lines);
    }
  }
}

TEST_P(SplitsTest, RestoringOverAChangedFileIsAUserErrorNamingIt) {
  const bool csv = GetParam();
  TempDir dir;
  const Generated generated = GenerateRows(csv, 800, 1, 5);
  const std::string path = WriteFile(dir.File(csv ? "a.csv" : "a.jsonl"), generated.text);
  SourceOptions options = WithOnError(OnError::kSkip, 50);
  options.split_block_bytes = 2048;
  auto make = [&] {
    return csv ? MakeCsvSource(path, IdPriceNameSchema(), options)
               : MakeJsonlSource(path, IdPriceNameSchema(), options);
  };
  auto splits = make()->CreateSplits(2, nullptr);
  splits[0]->Next();
  const std::vector<std::string> positions = {splits[0]->Position(), splits[1]->Position()};
  EXPECT_EQ(make()->CreateSplitsAfter(positions, 2, nullptr).size(), 2u);

  std::string edited = generated.text;
  edited[edited.size() - 3] = edited[edited.size() - 3] == '7' ? '8' : '7';  // same size
  WriteFile(path, edited);
  std::string error = UserErrorOf([&] { make()->CreateSplitsAfter(positions, 2, nullptr); });
  EXPECT_NE(error.find("'" + path + "' changed since the checkpoint"), std::string::npos) << error;

  WriteFile(path, generated.text + generated.text.substr(0, generated.text.find('\n') + 1));
  error = UserErrorOf([&] { make()->CreateSplitsAfter(positions, 2, nullptr); });
  EXPECT_NE(error.find("'" + path + "' has "), std::string::npos) << error;

  error = UserErrorOf([&] { make()->CreateSplitsAfter({"not a position"}, 2, nullptr); });
  EXPECT_NE(error.find("cannot be read back"), std::string::npos) << error;
}

TEST(ParquetSource, RestoredSplitsResumeRowGroupsPartWay) {
  TempDir dir;
  auto first = RandomTable(5000, 1);
  auto second = RandomTable(700, 2);
  WriteParquet(*first, dir.File("a.parquet"), 600);   // 9 row groups of 2-3 chunks each
  WriteParquet(*second, dir.File("b.parquet"), 1000);  // 1 row group
  auto make = [&] { return MakeParquetSource(dir.File("*.parquet"), WithOnError(OnError::kRaise, 256)); };
  auto whole = CheckArrow(arrow::ConcatenateTables({first, second}), "concatenate");
  const std::vector<std::vector<int>> histories = {{1, 1}, {2, 4}, {4, 1}, {3, 2, 4, 1}, {20, 7, 2}};
  for (size_t h = 0; h < histories.size(); ++h) {
    for (uint64_t seed : {1, 2, 3, 4}) {
      SCOPED_TRACE("history " + std::to_string(h) + " seed " + std::to_string(seed));
      auto rows = InSourceOrder(ReadAcrossRestores(make, histories[h], seed), whole->schema(), false);
      EXPECT_TRUE(rows->Equals(*whole)) << rows->num_rows() << " rows, not " << whole->num_rows();
    }
  }
}

TEST(ParquetSource, RestoringOverAnotherFileIsAUserErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.File("a.parquet");
  WriteParquet(*RandomTable(1000, 1), path, 300);
  auto splits = MakeParquetSource(path, {})->CreateSplits(2, nullptr);
  const std::vector<std::string> positions = {splits[0]->Position(), splits[1]->Position()};
  WriteParquet(*RandomTable(1000, 2), path, 300);
  const std::string error =
      UserErrorOf([&] { MakeParquetSource(path, {})->CreateSplitsAfter(positions, 1, nullptr); });
  EXPECT_NE(error.find("'" + path + "'"), std::string::npos) << error;
  EXPECT_NE(error.find("restore"), std::string::npos) << error;
}

}  // namespace
}  // namespace millstream
