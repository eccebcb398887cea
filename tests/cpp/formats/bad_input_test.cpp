// Every kind of bad input, as data: each case is a file, the rows that are good, and the bad
// rows with their line, field and reason; each runs in the three on_error modes and with 1 and
// 3 splits. raise must throw "<path>:<line>: [field '<f>': ]<reason>" for the first bad row,
// skip must keep exactly the good rows and count the bad ones, dead_letter must keep the good
// rows and send each bad one, with its raw line, to the dead letters.
#include <gtest/gtest.h>

#include "connectors/file_source.h"
#include "formats/csv_fields.h"
#include "text_file_testing.h"  // tests/cpp/formats/

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

struct BadRow {
  std::string line;
  std::string field;  // "" when the row as a whole is bad
  std::string reason;
  std::string raw;
};

struct BadInputCase {
  std::string name;
  bool csv;
  std::string text;
  std::vector<std::string> good_ids;
  std::vector<BadRow> bad;
};

const std::string kLongName(10 << 20, 'L');

std::vector<BadInputCase> Cases() {
  const std::string invalid_json = "invalid JSON (";  // then simdjson's message
  return {
      {"JsonlTypeMismatch", false,
       "{\"id\": 1, \"price\": 1.5}\n{\"id\": 2, \"price\": \"abc\"}\n{\"id\": 3, \"price\": true}\n{\"id\": 4}\n",
       {"1", "4"},
       {{"2", "price", "expected float64, got \"abc\"", "{\"id\": 2, \"price\": \"abc\"}"},
        {"3", "price", "expected float64, got true", "{\"id\": 3, \"price\": true}"}}},
      {"JsonlRequiredMissingAndNull", false,
       "{\"id\": 1}\n{\"price\": 2}\n{\"id\": null}\n{\"id\": 4}",
       {"1", "4"},
       {{"2", "id", "required field is missing", "{\"price\": 2}"},
        {"3", "id", "required field is null", "{\"id\": null}"}}},
      {"JsonlInvalidJsonAndNonObjects", false,
       "{\"id\": 1}\n{\"id\": 2\n\"just a string\"\n{\"id\": 4}\n",
       {"1", "4"},
       {{"2", "", invalid_json, "{\"id\": 2"},
        {"3", "", "expected a JSON object, got \"just a string\"", "\"just a string\""}}},
      {"JsonlInvalidUtf8", false,
       "{\"id\": 1, \"name\": \"\xC3\xA9\"}\n{\"id\": 2, \"name\": \"\xE9t\xE9\"}\n{\"id\": 3}\n",
       {"1", "3"},
       {{"2", "name", "invalid UTF-8", "{\"id\": 2, \"name\": \"\xEF\xBF\xBDt\xEF\xBF\xBD\"}"}}},
      {"JsonlTruncatedLastLine", false, "{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3, \"na", {"1", "2"},
       {{"3", "", invalid_json, "{\"id\": 3, \"na"}}},
      {"JsonlBomCrlfBlankLines", false,
       "\xEF\xBB\xBF{\"id\": 1}\r\n\r\n  \t\r\n{\"id\": \"x\"}\r\n{\"id\": 5}\r\n",
       {"1", "5"},
       {{"4", "id", "expected int64, got \"x\"", "{\"id\": \"x\"}"}}},
      {"JsonlIntegerOutOfRange", false,
       "{\"id\": 9223372036854775807}\n{\"id\": 9223372036854775808}\n{\"id\": 2.0}\n",
       {"9223372036854775807"},
       {{"2", "id", "expected int64, got 9223372036854775808", "{\"id\": 9223372036854775808}"},
        {"3", "id", "expected int64, got 2.0", "{\"id\": 2.0}"}}},
      {"JsonlTenMegabyteLine", false,
       "{\"id\": 1, \"name\": \"" + kLongName + "\", \"price\": \"p\"}\n{\"id\": 2}\n",
       {"2"},
       {{"1", "price", "expected float64, got \"p\"",
         "{\"id\": 1, \"name\": \"" + kLongName + "\", \"price\": \"p\"}"}}},
      {"CsvWrongFieldCount", true, "id,price,name\n1,1.5,a\n2,2.5\n3,3.5,c,d\n4,4.5,e", {"1", "4"},
       {{"3", "", "expected 3 fields, got 2", "2,2.5"},
        {"4", "", "expected 3 fields, got 4", "3,3.5,c,d"}}},
      {"CsvTypeMismatchAndRequiredEmpty", true, "id,price,name\r\n1,x,a\r\n,2.5,b\r\n3,3.5,c\r\n",
       {"3"},
       {{"2", "price", "expected float64, got \"x\"", "1,x,a"},
        {"3", "id", "required field is empty", ",2.5,b"}}},
      {"CsvInvalidUtf8", true, "id,price,name\n1,1,\xFF\n2,2,\"q\xC3\"\n3,3,\xC3\xA9\n", {"3"},
       {{"2", "name", "invalid UTF-8", "1,1,\xEF\xBF\xBD"},
        {"3", "name", "invalid UTF-8", "2,2,\"q\xEF\xBF\xBD\""}}},
      {"CsvQuoting", true, "id,price,name\n1,1,\"a\"b\n2,2,\"open\n3,3,\"ok\"\"\"\n", {"3"},
       {{"2", "", "unexpected text after the closing quote of a quoted field", "1,1,\"a\"b"},
        {"3", "", kUnterminatedQuoteReason, "2,2,\"open"}}},
      {"CsvBomBlankLinesAndTruncatedLastLine", true, "\xEF\xBB\xBFid,price,name\n\n1,1,a\n\r\n2,2", {"1"},
       {{"5", "", "expected 3 fields, got 2", "2,2"}}},
  };
}

SchemaPtr Schema() {
  return arrow::schema({arrow::field("id", arrow::int64(), /*nullable=*/false),
                        arrow::field("price", arrow::float64()), arrow::field("name", arrow::utf8())});
}

class BadInput : public ::testing::TestWithParam<BadInputCase> {};

TEST_P(BadInput, InTheThreeModesAndWithSplits) {
  const BadInputCase& c = GetParam();
  TempDir dir;
  const std::string path = WriteFile(dir.File(c.csv ? "data.csv" : "events.jsonl"), c.text);
  auto make = [&](OnError on_error) {
    SourceOptions options = WithOnError(on_error, /*batch_size=*/2);
    return c.csv ? MakeCsvSource(path, Schema(), options) : MakeJsonlSource(path, Schema(), options);
  };
  const BadRow& first = c.bad.front();
  const std::string expected_message =
      path + ":" + first.line + ": " + (first.field.empty() ? "" : "field '" + first.field + "': ") +
      first.reason;
  for (const int splits : {1, 3}) {
    SCOPED_TRACE("splits: " + std::to_string(splits));
    const std::string message = UserErrorOf([&] { ReadAll(*make(OnError::kRaise), splits); });
    if (first.reason.back() == '(') {  // simdjson's wording follows
      EXPECT_EQ(message.rfind(expected_message, 0), 0u) << message;
    } else {
      EXPECT_EQ(message, expected_message);
    }

    OperatorMetrics skip_metrics("skip");
    auto skipped = ReadAll(*make(OnError::kSkip), splits, &skip_metrics);
    EXPECT_EQ(ColumnText(*skipped.rows, "id"), c.good_ids);
    EXPECT_EQ(skip_metrics.rows_skipped, static_cast<int64_t>(c.bad.size()));
    EXPECT_EQ(skip_metrics.rows_out, static_cast<int64_t>(c.good_ids.size()));
    EXPECT_EQ(skipped.dead_letters->num_rows(), 0);

    OperatorMetrics dead_metrics("dead");
    auto dead = ReadAll(*make(OnError::kDeadLetter), splits, &dead_metrics);
    EXPECT_EQ(ColumnText(*dead.rows, "id"), c.good_ids);
    EXPECT_EQ(dead_metrics.rows_dead_letter, static_cast<int64_t>(c.bad.size()));
    EXPECT_EQ(dead_metrics.rows_skipped, 0);
    ASSERT_EQ(dead.dead_letters->num_rows(), static_cast<int64_t>(c.bad.size()));
    ASSERT_TRUE(dead.dead_letters->ValidateFull().ok());
    const auto sources = ColumnText(*dead.dead_letters, "source");
    const auto lines = ColumnText(*dead.dead_letters, "line");
    const auto fields = ColumnText(*dead.dead_letters, "field");
    const auto reasons = ColumnText(*dead.dead_letters, "reason");
    auto raws = std::static_pointer_cast<arrow::StringArray>(
        CheckArrow(arrow::Concatenate(dead.dead_letters->GetColumnByName("raw")->chunks()), "raw"));
    for (size_t i = 0; i < c.bad.size(); ++i) {
      SCOPED_TRACE("bad row " + std::to_string(i));
      const BadRow& bad = c.bad[i];
      EXPECT_EQ(sources[i], path);
      EXPECT_EQ(lines[i], bad.line);
      EXPECT_EQ(fields[i], bad.field.empty() ? "null" : bad.field);
      const std::string reason = (bad.field.empty() ? "" : "field '" + bad.field + "': ") + bad.reason;
      if (bad.reason.back() == '(') {
        EXPECT_EQ(reasons[i].rfind(reason, 0), 0u) << reasons[i];
      } else {
        EXPECT_EQ(reasons[i], reason);
      }
      EXPECT_TRUE(raws->GetView(i) == bad.raw) << raws->GetView(i).substr(0, 80);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInput, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace millstream
