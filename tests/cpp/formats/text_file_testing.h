// Helpers for the file-format and file-connector tests: a temporary directory, files with given
// bytes, source options and the usual schema, reading a whole source (all splits, in order) into
// one table plus its dead letters, and Arrow's CSV reader as an independent reference.
// Tests take them with `using namespace millstream::testing;`.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <arrow/csv/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>

#include "connectors/source.h"
#include "core/error.h"

namespace millstream::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "millstream-XXXXXX").string();
    MS_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return path;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline SourceOptions WithOnError(OnError on_error, int64_t batch_size = kDefaultBatchSize) {
  SourceOptions options;
  options.on_error = on_error;
  options.batch_size = batch_size;
  return options;
}

// id int64, price float64, name utf8: the schema most file tests read.
inline SchemaPtr IdPriceNameSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64()),
                        arrow::field("name", arrow::utf8())});
}

struct ReadResult {
  std::shared_ptr<arrow::Table> rows;          // every split's rows, split after split
  std::shared_ptr<arrow::Table> dead_letters;  // in DeadLetterSchema()
  std::vector<int64_t> batch_rows;             // the size of each non-empty batch
  int splits = 0;
};

// Each split's rows, read to its end.
inline std::vector<std::shared_ptr<arrow::Table>> ReadEachSplit(const Source& source, int max_splits) {
  std::vector<std::shared_ptr<arrow::Table>> tables;
  for (auto& split : source.CreateSplits(max_splits, nullptr)) {
    std::vector<BatchPtr> rows;
    for (SplitOutput output = split->Next();; output = split->Next()) {
      if (output.rows && output.rows->num_rows() > 0) rows.push_back(output.rows);
      if (output.end) break;
    }
    tables.push_back(CheckArrow(arrow::Table::FromRecordBatches(source.schema(), rows), "rows"));
  }
  return tables;
}

// Reads every split to its end, in split order.
inline ReadResult ReadAll(const Source& source, int max_splits, OperatorMetrics* metrics) {
  ReadResult result;
  std::vector<BatchPtr> rows;
  std::vector<BatchPtr> dead;
  auto splits = source.CreateSplits(max_splits, metrics);
  result.splits = static_cast<int>(splits.size());
  for (auto& split : splits) {
    for (int guard = 0; guard < 1000000; ++guard) {
      SplitOutput output = split->Next();
      if (output.rows && output.rows->num_rows() > 0) {
        rows.push_back(output.rows);
        result.batch_rows.push_back(output.rows->num_rows());
      }
      if (output.dead_letters) dead.push_back(output.dead_letters);
      if (output.end) break;
    }
  }
  result.rows = CheckArrow(arrow::Table::FromRecordBatches(source.schema(), rows), "rows");
  result.dead_letters =
      CheckArrow(arrow::Table::FromRecordBatches(DeadLetterSchema(), dead), "dead letters");
  return result;
}

inline ReadResult ReadAll(const Source& source, int max_splits = 1) {
  OperatorMetrics metrics("test");
  return ReadAll(source, max_splits, &metrics);
}

// The message of the UserError that `body` throws ("" when it throws none).
template <typename Body>
std::string UserErrorOf(Body&& body) {
  try {
    body();
  } catch (const UserError& error) {
    return error.what();
  }
  return "";
}

// Column `name` of `table` as text, one entry a row ("null" for nulls): compact expectations.
inline std::vector<std::string> ColumnText(const arrow::Table& table, const std::string& name) {
  std::vector<std::string> values;
  auto column = table.GetColumnByName(name);
  MS_CHECK(column != nullptr, "no column " + name);
  for (const auto& chunk : column->chunks()) {
    for (int64_t i = 0; i < chunk->length(); ++i) {
      if (chunk->IsNull(i)) {
        values.push_back("null");
        continue;
      }
      auto scalar = CheckArrow(chunk->GetScalar(i), "scalar");
      values.push_back(scalar->ToString());
    }
  }
  return values;
}

// `path` as Arrow's own CSV reader reads it, typed by `schema`, with our null rules: an
// unquoted empty field is null, a quoted empty field is an empty string.
inline std::shared_ptr<arrow::Table> ArrowCsvReference(const std::string& path,
                                                       const SchemaPtr& schema) {
  auto input = CheckArrow(arrow::io::ReadableFile::Open(path), "open");
  auto convert = arrow::csv::ConvertOptions::Defaults();
  for (const auto& field : schema->fields()) convert.column_types[field->name()] = field->type();
  convert.strings_can_be_null = true;
  convert.quoted_strings_can_be_null = false;
  auto reader = CheckArrow(arrow::csv::TableReader::Make(arrow::io::default_io_context(), input,
                                                         arrow::csv::ReadOptions::Defaults(),
                                                         arrow::csv::ParseOptions::Defaults(), convert),
                           "reader");
  return CheckArrow(reader->Read(), "read");
}

// Runs `body` in a child process that then dies without unwinding (no destructor, no Abort), as
// a killed run does, while what `body` returns (the run's sink) is alive; its temporary files
// keep the child's pid in their names.
template <typename Body>
void RunAndDie(Body body) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      auto alive_when_killed = body();
      ::_exit(0);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "the child run failed: %s\n", error.what());
      ::_exit(2);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child run failed";
}

}  // namespace millstream::testing
