// CSV parsing, through read_csv's source: quoting, headers, nulls, inference, and every kind of
// bad input in the three on_error modes. Arrow's own CSV reader is the independent reference
// for well-formed input.
#include "formats/csv_reader.h"

#include <arrow/array/concatenate.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "connectors/file_source.h"
#include "formats/csv_fields.h"
#include "formats/text_values.h"
#include "text_file_testing.h"  // tests/cpp/formats/

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

TEST(CsvReader, QuotedFieldsDoubledQuotesAndNulls) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("q.csv"),
                                     "id,price,name\n"
                                     "1,2.5,plain\n"
                                     "2,\"3.5\",\"a,b\"\n"
                                     "3,,\"say \"\"hi\"\"\"\n"
                                     ",4,\n"
                                     "5,-1e3,\"\"\n"
                                     "\"6\",+7,caf\xC3\xA9\n");
  auto result = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), SourceOptions{}));
  EXPECT_EQ(ColumnText(*result.rows, "id"),
            (std::vector<std::string>{"1", "2", "3", "null", "5", "6"}));
  EXPECT_EQ(ColumnText(*result.rows, "price"),
            (std::vector<std::string>{"2.5", "3.5", "null", "4", "-1000", "7"}));
  // An unquoted empty field is null; a quoted empty field is an empty string.
  EXPECT_EQ(ColumnText(*result.rows, "name"),
            (std::vector<std::string>{"plain", "a,b", "say \"hi\"", "null", "", "caf\xC3\xA9"}));
}

TEST(CsvReader, HeaderColumnsMatchTheSchemaByName) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("h.csv"),
                                     "name,unused,id,price\n"
                                     "a,x,1,1.5\n"
                                     "b,y,2,2.5\n");
  auto result = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), SourceOptions{}));
  EXPECT_EQ(ColumnText(*result.rows, "id"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(ColumnText(*result.rows, "name"), (std::vector<std::string>{"a", "b"}));

  const std::string lacking = WriteFile(dir.File("data.csv"), "id,name\n1,a\n");
  EXPECT_EQ(UserErrorOf([&] { MakeCsvSource(lacking, IdPriceNameSchema(), SourceOptions{}); }),
            lacking + ": the header has no column 'price' (it has: id, name)");
}

TEST(CsvReader, WithoutHeaderColumnsArePositional) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("n.csv"), "1;2.5;a\n2;3.5;b\n");
  CsvOptions csv;
  csv.header = false;
  csv.delimiter = ';';
  auto result = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), SourceOptions{}, csv));
  EXPECT_EQ(ColumnText(*result.rows, "price"), (std::vector<std::string>{"2.5", "3.5"}));
  auto inferred = MakeCsvSource(path, nullptr, SourceOptions{}, csv);
  EXPECT_EQ(inferred->schema()->ToString(),
            arrow::schema({arrow::field("column_1", arrow::int64()),
                           arrow::field("column_2", arrow::float64()),
                           arrow::field("column_3", arrow::utf8())})
                ->ToString());
}

TEST(CsvReader, InfersTypesFromTheFirstRows) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("i.csv"),
                                     "a,b,c,d,e,f\n"
                                     "1,1,true,x,,2024-01-02\n"
                                     "2,2.5,False,3,,2024-01-03\n"
                                     "-3,,TRUE,,,\n");
  auto source = MakeCsvSource(path, nullptr, SourceOptions{});
  EXPECT_EQ(source->schema()->ToString(),
            arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::float64()),
                           arrow::field("c", arrow::boolean()), arrow::field("d", arrow::utf8()),
                           arrow::field("e", arrow::utf8()), arrow::field("f", arrow::utf8())})
                ->ToString());
  auto result = ReadAll(*source);
  EXPECT_EQ(ColumnText(*result.rows, "c"), (std::vector<std::string>{"true", "false", "true"}));
  EXPECT_EQ(ColumnText(*result.rows, "d"), (std::vector<std::string>{"x", "3", "null"}));

  const std::string header_only = WriteFile(dir.File("header_only.csv"), "a,b\n");
  EXPECT_NE(UserErrorOf([&] { MakeCsvSource(header_only, nullptr, SourceOptions{}); })
                .find("cannot infer a schema from " + header_only),
            std::string::npos);
  const std::string empty = WriteFile(dir.File("empty.csv"), "");
  EXPECT_NE(UserErrorOf([&] { MakeCsvSource(empty, nullptr, SourceOptions{}); })
                .find("cannot infer a schema from " + empty),
            std::string::npos);
  auto given = ReadAll(*MakeCsvSource(empty, IdPriceNameSchema(), SourceOptions{}));
  EXPECT_EQ(given.rows->num_rows(), 0);
  EXPECT_TRUE(given.rows->schema()->Equals(*IdPriceNameSchema()));
}

TEST(CsvReader, WrongFieldCountInTheThreeModes) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("data.csv"),
                                     "id,price,name\n"
                                     "1,1.5,a\n"
                                     "2,2.5,b\n"
                                     "3,3.5,c\n"
                                     "4,x\n"               // line 5: too few (and a bad value)
                                     "5,5.5,e,extra\n"     // line 6: too many
                                     "6,6.5,f\n");
  EXPECT_EQ(UserErrorOf([&] { ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), SourceOptions{})); }),
            path + ":5: expected 3 fields, got 2");
  OperatorMetrics metrics("skip");
  auto skipped = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), WithOnError(OnError::kSkip)), 1,
                         &metrics);
  EXPECT_EQ(ColumnText(*skipped.rows, "id"), (std::vector<std::string>{"1", "2", "3", "6"}));
  EXPECT_EQ(metrics.rows_skipped, 2);
  auto dead = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), WithOnError(OnError::kDeadLetter)));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "line"), (std::vector<std::string>{"5", "6"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "field"), (std::vector<std::string>{"null", "null"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "reason"),
            (std::vector<std::string>{"expected 3 fields, got 2", "expected 3 fields, got 4"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "raw"),
            (std::vector<std::string>{"4,x", "5,5.5,e,extra"}));
}

TEST(CsvReader, TypeMismatchRequiredAndInvalidUtf8InTheThreeModes) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("t.csv"),
                                     "id,price,name\r\n"
                                     "1,1.5,a\r\n"
                                     "2,abc,b\r\n"
                                     "9223372036854775808,1,c\r\n"
                                     ",4.5,d\r\n"
                                     "5,5.5,\"bad\xFF\"\r\n"
                                     "6,6.5,bad\xC3\r\n"
                                     "7,7.5,g\r\n");
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), /*nullable=*/false),
                               arrow::field("price", arrow::float64()),
                               arrow::field("name", arrow::utf8())});
  EXPECT_EQ(UserErrorOf([&] { ReadAll(*MakeCsvSource(path, schema, SourceOptions{})); }),
            path + ":3: field 'price': expected float64, got \"abc\"");
  OperatorMetrics metrics("dead");
  auto dead = ReadAll(*MakeCsvSource(path, schema, WithOnError(OnError::kDeadLetter)), 1, &metrics);
  EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "7"}));
  EXPECT_EQ(metrics.rows_dead_letter, 5);
  EXPECT_EQ(metrics.rows_out, 2);
  EXPECT_EQ(ColumnText(*dead.dead_letters, "line"),
            (std::vector<std::string>{"3", "4", "5", "6", "7"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "reason"),
            (std::vector<std::string>{"field 'price': expected float64, got \"abc\"",
                                      "field 'id': expected int64, got \"9223372036854775808\"",
                                      "field 'id': required field is empty",
                                      "field 'name': invalid UTF-8", "field 'name': invalid UTF-8"}));
  // CRLF: the raw line has no line end.
  EXPECT_EQ(ColumnText(*dead.dead_letters, "raw")[0], "2,abc,b");
  auto skipped = ReadAll(*MakeCsvSource(path, schema, WithOnError(OnError::kSkip)));
  EXPECT_EQ(ColumnText(*skipped.rows, "id"), (std::vector<std::string>{"1", "7"}));
}

// Newlines inside quoted fields are not supported (see csv_fields.h): such a row is bad input,
// reported the same way whatever the number of splits.
TEST(CsvReader, NewlineInsideQuotesIsBadInputWithAnyParallelism) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("nl.csv"),
                                     "id,price,name\n"
                                     "1,1.5,a\n"
                                     "2,2.5,\"two\n"
                                     "lines\"\n"
                                     "3,3.5,c\n");
  EXPECT_EQ(UserErrorOf([&] { ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), SourceOptions{})); }),
            path + ":3: " + kUnterminatedQuoteReason);
  for (const int splits : {1, 2, 3}) {
    auto dead = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), WithOnError(OnError::kDeadLetter)),
                        splits);
    EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "3"})) << splits;
    EXPECT_EQ(ColumnText(*dead.dead_letters, "line"), (std::vector<std::string>{"3", "4"}));
  }
}

TEST(CsvReader, BomBlankLinesTruncatedLastLineAndLongLine) {
  TempDir dir;
  const std::string big(10 << 20, 'q');
  const std::string path = WriteFile(dir.File("b.csv"),
                                     "\xEF\xBB\xBFid,price,name\n"
                                     "\n"
                                     "1,1.5,a\n"
                                     "\r\n"
                                     "2,2.5," + big + "\n"
                                     "3,3.5,\"" + big + "\"");
  auto result = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), SourceOptions{}));
  EXPECT_EQ(ColumnText(*result.rows, "id"), (std::vector<std::string>{"1", "2", "3"}));
  auto names = std::static_pointer_cast<arrow::StringArray>(
      CheckArrow(arrow::Concatenate(result.rows->GetColumnByName("name")->chunks()), "names"));
  EXPECT_EQ(names->GetView(1), big);
  EXPECT_EQ(names->GetView(2), big);
}

TEST(CsvReader, TimestampsAndBooleans) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("ts.csv"),
                                     "ts,flag\n"
                                     "2024-01-02T03:04:05.123Z,true\n"
                                     "2024-01-02 03:04:05,FALSE\n"
                                     "1704164645123,\n"
                                     "yesterday,yes\n");
  auto schema = arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI)),
                               arrow::field("flag", arrow::boolean())});
  auto dead = ReadAll(*MakeCsvSource(path, schema, WithOnError(OnError::kDeadLetter)));
  auto ts = std::static_pointer_cast<arrow::TimestampArray>(dead.rows->column(0)->chunk(0));
  ASSERT_EQ(ts->length(), 3);
  EXPECT_EQ(ts->Value(0), 1704164645123);
  EXPECT_EQ(ts->Value(1), 1704164645000);
  EXPECT_EQ(ts->Value(2), 1704164645123);
  EXPECT_EQ(ColumnText(*dead.rows, "flag"), (std::vector<std::string>{"true", "false", "null"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "reason"),
            (std::vector<std::string>{
                "field 'ts': expected timestamp (ISO-8601 text or epoch integer), got \"yesterday\""}));
}

// Random well-formed files: our reader and Arrow's CSV reader must agree value for value.
TEST(CsvReader, AgreesWithArrowsCsvReaderOnRandomInput) {
  TempDir dir;
  std::mt19937_64 random(42);
  std::string text = "id,price,name,flag\n";
  const char* names[] = {"ann", "b,ob", "say \"x\"", "", "çé", " spaced "};
  for (int row = 0; row < 5000; ++row) {
    const int64_t id = static_cast<int64_t>(random()) >> (random() % 64);
    text += random() % 17 == 0 ? "" : std::to_string(id);
    text += ',';
    if (random() % 13 != 0) {
      char buffer[64];
      const double price = std::ldexp(static_cast<double>(random() % 2000000) - 1e6,
                                       static_cast<int>(random() % 40) - 20);
      snprintf(buffer, sizeof(buffer), "%.17g", price);
      text += buffer;
    }
    text += ',';
    const std::string name = names[random() % 6];
    if (name.find_first_of(",\"") != std::string::npos || name.empty()) {
      std::string quoted = "\"";
      for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      text += quoted + "\"";
    } else {
      text += name;
    }
    text += ',';
    text += random() % 2 ? "true" : "false";
    text += random() % 5 == 0 ? "\r\n" : "\n";
  }
  const std::string path = WriteFile(dir.File("random.csv"), text);
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64()),
                               arrow::field("name", arrow::utf8()), arrow::field("flag", arrow::boolean())});
  auto ours = ReadAll(*MakeCsvSource(path, schema, SourceOptions{}), 3);

  auto reference = ArrowCsvReference(path, schema);
  ASSERT_EQ(ours.rows->num_rows(), 5000);
  EXPECT_TRUE(ours.rows->Equals(*reference)) << ours.rows->Slice(0, 5)->ToString() << "\nvs\n"
                                             << reference->Slice(0, 5)->ToString();
}

TEST(CsvFields, SplitAndCount) {
  std::vector<std::string> fields;
  const std::string line = "a,\"b,c\",\"d\"\"e\",,\"\"";
  EXPECT_EQ(SplitCsvLine(line.data(), line.data() + line.size(), ',', &fields), nullptr);
  EXPECT_EQ(fields, (std::vector<std::string>{"a", "b,c", "d\"e", "", ""}));
  EXPECT_EQ(CountCsvFields(line.data(), line.data() + line.size(), ','), 5);
  const std::string bad = "a,\"b\"x,c";
  EXPECT_NE(SplitCsvLine(bad.data(), bad.data() + bad.size(), ',', &fields), nullptr);
  EXPECT_EQ(CountCsvFields(bad.data(), bad.data() + bad.size(), ','), 3);
}

TEST(CsvReader, LongLinesManyDelimitersAndTheEndOfTheFile) {
  TempDir dir;
  // Lines longer than the 16-byte blocks the scanner loads, a line with far more fields than
  // expected, and a last line that ends a few bytes before the end of the mapping.
  const std::string long_name(37, 'n');
  const std::string many(40, ',');
  const std::string path = WriteFile(dir.File("l.csv"),
                                     "id,price,name\n"
                                     "1,1.5," + long_name + "\n"
                                     "2,2.5" + many + "\n"
                                     "123456789012,0.000001,x\n"
                                     "4,4.5,y");
  auto dead = ReadAll(*MakeCsvSource(path, IdPriceNameSchema(), WithOnError(OnError::kDeadLetter)));
  EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "123456789012", "4"}));
  EXPECT_EQ(ColumnText(*dead.rows, "name"), (std::vector<std::string>{long_name, "x", "y"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "reason"),
            (std::vector<std::string>{"expected 3 fields, got 42"}));
  for (int length = 0; length < 40; ++length) {  // every position of the end relative to a block
    const std::string name(length, 'v');
    const std::string tail = WriteFile(dir.File("tail.csv"), "id,price,name\n7,7.5," + name);
    auto result = ReadAll(*MakeCsvSource(tail, IdPriceNameSchema(), SourceOptions{}));
    ASSERT_EQ(ColumnText(*result.rows, "name"), (std::vector<std::string>{length ? name : "null"}));
  }
}

// The fast decimal path must give exactly what a correctly rounding parser (strtod) gives.
TEST(TextValues, Float64MatchesStrtodExactly) {
  std::mt19937_64 random(9);
  for (int i = 0; i < 200000; ++i) {
    std::string text = random() % 2 ? "-" : "";
    const int int_digits = static_cast<int>(random() % 12);
    const int fraction_digits = static_cast<int>(random() % 12);
    for (int d = 0; d < int_digits; ++d) text += static_cast<char>('0' + random() % 10);
    if (fraction_digits > 0 || int_digits == 0) {
      text += '.';
      for (int d = 0; d < std::max(1, fraction_digits); ++d) text += static_cast<char>('0' + random() % 10);
    }
    double ours = 0;
    ASSERT_TRUE(ParseFloat64Text(text.data(), text.data() + text.size(), &ours)) << text;
    const double reference = std::strtod(text.c_str(), nullptr);
    ASSERT_EQ(std::memcmp(&ours, &reference, sizeof(double)), 0) << text;
  }
  for (const char* text : {"1e5", "2.5E-3", "inf", "-Infinity", "nan", "+7", "12345678901234567890.5",
                           "0.30000000000000004", "9007199254740993"}) {
    double ours = 0;
    ASSERT_TRUE(ParseFloat64Text(text, text + std::strlen(text), &ours)) << text;
    const double reference = std::strtod(text, nullptr);
    if (std::isnan(reference)) {
      EXPECT_TRUE(std::isnan(ours));
    } else {
      EXPECT_EQ(ours, reference) << text;
    }
  }
  for (const char* text : {"", "-", ".", "1.5x", "1,5", "--1", "1e", "0x10", " 1"}) {
    double ours = 0;
    EXPECT_FALSE(ParseFloat64Text(text, text + std::strlen(text), &ours)) << text;
  }
}

TEST(TextValues, Int64Bounds) {
  auto parse = [](const std::string& text, int64_t* value) {
    return ParseInt64Text(text.data(), text.data() + text.size(), value);
  };
  int64_t value = 0;
  EXPECT_TRUE(parse("9223372036854775807", &value));
  EXPECT_EQ(value, INT64_MAX);
  EXPECT_TRUE(parse("-9223372036854775808", &value));
  EXPECT_EQ(value, INT64_MIN);
  EXPECT_TRUE(parse("+00000000000000000000042", &value));
  EXPECT_EQ(value, 42);
  for (const char* bad : {"9223372036854775808", "-9223372036854775809", "99999999999999999999",
                          "", "-", "1.0", "1e3", " 1", "12a"}) {
    EXPECT_FALSE(parse(bad, &value)) << bad;
  }
}

}  // namespace
}  // namespace millstream
