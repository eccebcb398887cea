// JSON Lines parsing, through read_jsonl's source: values and types, nulls, timestamps, schema
// inference, and every kind of bad input in the three on_error modes.
#include "formats/jsonl_reader.h"

#include <arrow/array/concatenate.h>
#include <gtest/gtest.h>

#include "connectors/file_source.h"
#include "formats/iso_timestamp.h"
#include "text_file_testing.h"  // tests/cpp/formats/

namespace millstream {
namespace {

using namespace millstream::testing;  // text_file_testing.h

TEST(JsonlReader, ReadsValuesWithKeysInAnyOrderAndIgnoresOthers) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("a.jsonl"),
                                     R"({"id": 1, "price": 2.5, "name": "x", "ok": true})" "\n"
                                     R"({"name": "y\"q\u00e9", "id": -7, "extra": {"n": [1, 2]}, "price": 3})" "\n"
                                     R"({"id": 3})" "\n"
                                     R"({"id": null, "price": null, "name": null})" "\n"
                                     R"({"price": -1e3, "name": "", "id": 9223372036854775807})" "\n");
  auto schema = arrow::schema({arrow::field("id", arrow::int64()),
                               arrow::field("price", arrow::float64()),
                               arrow::field("name", arrow::utf8()),
                               arrow::field("ok", arrow::boolean())});
  auto result = ReadAll(*MakeJsonlSource(path, schema, SourceOptions{}));
  ASSERT_TRUE(result.rows->schema()->Equals(*schema));
  EXPECT_EQ(ColumnText(*result.rows, "id"),
            (std::vector<std::string>{"1", "-7", "3", "null", "9223372036854775807"}));
  EXPECT_EQ(ColumnText(*result.rows, "price"),
            (std::vector<std::string>{"2.5", "3", "null", "null", "-1000"}));
  EXPECT_EQ(ColumnText(*result.rows, "name"),
            (std::vector<std::string>{"x", "y\"q\xC3\xA9", "null", "null", ""}));
  EXPECT_EQ(ColumnText(*result.rows, "ok"),
            (std::vector<std::string>{"true", "null", "null", "null", "null"}));
  EXPECT_EQ(result.dead_letters->num_rows(), 0);
}

TEST(JsonlReader, DuplicateKeyLastValueWins) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("d.jsonl"),
                                     R"({"id": 1, "name": "first", "id": 2, "name": "second"})" "\n"
                                     R"({"name": "a", "name": null, "id": 3})" "\n");
  auto result = ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), SourceOptions{}));
  EXPECT_EQ(ColumnText(*result.rows, "id"), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(ColumnText(*result.rows, "name"), (std::vector<std::string>{"second", "null"}));
}

TEST(JsonlReader, TimestampsFromIsoTextOrEpochIntegersInTheColumnUnit) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("t.jsonl"),
                                     R"({"ts": "2024-01-02T03:04:05.123Z"})" "\n"
                                     R"({"ts": "2024-01-02 03:04:05"})" "\n"
                                     R"({"ts": "2024-01-02T03:04:05+02:00"})" "\n"
                                     R"({"ts": "2024-01-02"})" "\n"
                                     R"({"ts": 1704164645123})" "\n"
                                     R"({"ts": "1969-12-31T23:59:59.9996Z"})" "\n");
  // Expected values computed independently (Python's datetime).
  auto ms = ReadAll(*MakeJsonlSource(
      path, arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"))}),
      SourceOptions{}));
  auto values = std::static_pointer_cast<arrow::TimestampArray>(ms.rows->column(0)->chunk(0));
  ASSERT_EQ(values->length(), 6);
  EXPECT_EQ(values->Value(0), 1704164645123);
  EXPECT_EQ(values->Value(1), 1704164645000);
  EXPECT_EQ(values->Value(2), 1704157445000);
  EXPECT_EQ(values->Value(3), 1704153600000);
  EXPECT_EQ(values->Value(4), 1704164645123);  // an integer is already in ms
  EXPECT_EQ(values->Value(5), -1);             // digits finer than ms are dropped toward the past

  auto seconds = ReadAll(*MakeJsonlSource(
      path, arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::SECOND))}),
      SourceOptions{}));
  auto s = std::static_pointer_cast<arrow::TimestampArray>(seconds.rows->column(0)->chunk(0));
  EXPECT_EQ(s->Value(0), 1704164645);
  EXPECT_EQ(s->Value(4), 1704164645123);  // taken as seconds, as the column's unit says

  auto ns = ReadAll(*MakeJsonlSource(
      path, arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO))}),
      SourceOptions{}));
  auto n = std::static_pointer_cast<arrow::TimestampArray>(ns.rows->column(0)->chunk(0));
  EXPECT_EQ(n->Value(0), 1704164645123000000);
  EXPECT_EQ(n->Value(5), -400000);
}

TEST(JsonlReader, TypeMismatchInTheThreeModes) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("events.jsonl"),
                                     R"({"id": 1, "price": 1.5, "name": "a"})" "\n"
                                     R"({"id": 2, "price": 2.5, "name": "b"})" "\n"
                                     R"({"id": 3, "price": "abc", "name": "c"})" "\n"
                                     R"({"id": 4.5, "price": 4, "name": "d"})" "\n"
                                     R"({"id": 5, "price": 5, "name": 5})" "\n"
                                     R"({"id": 6, "price": 6, "name": "f"})" "\n");
  EXPECT_EQ(UserErrorOf([&] { ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), SourceOptions{})); }),
            path + ":3: field 'price': expected float64, got \"abc\"");

  OperatorMetrics skip_metrics("skip");
  auto skipped = ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), WithOnError(OnError::kSkip)), 1,
                         &skip_metrics);
  EXPECT_EQ(ColumnText(*skipped.rows, "id"), (std::vector<std::string>{"1", "2", "6"}));
  EXPECT_EQ(skip_metrics.rows_skipped, 3);
  EXPECT_EQ(skip_metrics.rows_out, 3);
  EXPECT_EQ(skipped.dead_letters->num_rows(), 0);

  OperatorMetrics dead_metrics("dead");
  auto dead = ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), WithOnError(OnError::kDeadLetter)), 1,
                      &dead_metrics);
  EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "2", "6"}));
  EXPECT_EQ(dead_metrics.rows_dead_letter, 3);
  EXPECT_EQ(dead_metrics.rows_skipped, 0);
  ASSERT_EQ(dead.dead_letters->num_rows(), 3);
  EXPECT_EQ(ColumnText(*dead.dead_letters, "source"), (std::vector<std::string>(3, path)));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "line"), (std::vector<std::string>{"3", "4", "5"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "field"),
            (std::vector<std::string>{"price", "id", "name"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "reason"),
            (std::vector<std::string>{"field 'price': expected float64, got \"abc\"",
                                      "field 'id': expected int64, got 4.5",
                                      "field 'name': expected string, got 5"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "raw")[0], R"({"id": 3, "price": "abc", "name": "c"})");
}

TEST(JsonlReader, InvalidJsonAndNonObjectsAreBadRows) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("x.jsonl"),
                                     R"({"id": 1})" "\n"
                                     R"({"id": 2})" "\n"
                                     R"({"id": 3,)" "\n"
                                     R"([1, 2])" "\n"
                                     R"({"id": 5} {"id": 6})" "\n"
                                     R"({"id": tru})" "\n"
                                     R"({"id": 7})" "\n");
  const std::string raised =
      UserErrorOf([&] { ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), SourceOptions{})); });
  EXPECT_EQ(raised.rfind(path + ":3: invalid JSON (", 0), 0u) << raised;

  auto dead = ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), WithOnError(OnError::kDeadLetter)));
  EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "2", "7"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "line"),
            (std::vector<std::string>{"3", "4", "5", "6"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "field"), (std::vector<std::string>(4, "null")));
  const auto reasons = ColumnText(*dead.dead_letters, "reason");
  EXPECT_EQ(reasons[0].rfind("invalid JSON (", 0), 0u);
  EXPECT_EQ(reasons[1], "expected a JSON object, got [1,2]");
  EXPECT_EQ(reasons[2].rfind("invalid JSON (", 0), 0u);
  EXPECT_EQ(reasons[3].rfind("invalid JSON (", 0), 0u);
}

TEST(JsonlReader, RequiredFieldMissingOrNull) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("r.jsonl"),
                                     R"({"id": 1, "price": 1})" "\n"
                                     R"({"price": 2})" "\n"
                                     R"({"id": null, "price": 3})" "\n"
                                     R"({"id": 4})" "\n");
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), /*nullable=*/false),
                               arrow::field("price", arrow::float64())});
  EXPECT_EQ(UserErrorOf([&] { ReadAll(*MakeJsonlSource(path, schema, SourceOptions{})); }),
            path + ":2: field 'id': required field is missing");
  auto dead = ReadAll(*MakeJsonlSource(path, schema, WithOnError(OnError::kDeadLetter)));
  EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "4"}));
  EXPECT_EQ(ColumnText(*dead.rows, "price"), (std::vector<std::string>{"1", "null"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "reason"),
            (std::vector<std::string>{"field 'id': required field is missing",
                                      "field 'id': required field is null"}));
  EXPECT_EQ(dead.rows->schema()->field(0)->nullable(), false);
  EXPECT_EQ(dead.rows->column(0)->null_count(), 0);
}

TEST(JsonlReader, InvalidUtf8InAStringFieldNamesTheField) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("u.jsonl"),
                                     "{\"id\": 1, \"name\": \"ok\"}\n"
                                     "{\"id\": 2, \"name\": \"bad\xFF\xFE\"}\n"
                                     "{\"id\": 3, \"other\": \"bad\xC3\", \"name\": \"kept\"}\n"
                                     "{\"id\": 4, \"name\": \"caf\xC3\xA9\"}\n");
  EXPECT_EQ(UserErrorOf([&] { ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), SourceOptions{})); }),
            path + ":2: field 'name': invalid UTF-8");
  auto dead = ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), WithOnError(OnError::kDeadLetter)));
  // Invalid bytes in a key the schema does not read do not make the row bad.
  EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "3", "4"}));
  EXPECT_EQ(ColumnText(*dead.rows, "name"),
            (std::vector<std::string>{"ok", "kept", "caf\xC3\xA9"}));
  ASSERT_EQ(dead.dead_letters->num_rows(), 1);
  EXPECT_EQ(ColumnText(*dead.dead_letters, "field"), (std::vector<std::string>{"name"}));
  // The raw line is kept, with the invalid bytes replaced so that it is a valid string.
  EXPECT_EQ(ColumnText(*dead.dead_letters, "raw"),
            (std::vector<std::string>{"{\"id\": 2, \"name\": \"bad\xEF\xBF\xBD\xEF\xBF\xBD\"}"}));
  ASSERT_TRUE(dead.dead_letters->column(4)->chunk(0)->ValidateFull().ok());
}

TEST(JsonlReader, LineShapesBomCrlfBlankLinesAndNoFinalNewline) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("s.jsonl"),
                                     "\xEF\xBB\xBF{\"id\": 1}\r\n"
                                     "\r\n"
                                     "   \n"
                                     "{\"id\": 2}\r\n"
                                     "\n"
                                     "{\"id\": \"three\"}\r\n"
                                     "{\"id\": 4}");  // no newline at the end
  auto dead = ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), WithOnError(OnError::kDeadLetter)));
  EXPECT_EQ(ColumnText(*dead.rows, "id"), (std::vector<std::string>{"1", "2", "4"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "line"), (std::vector<std::string>{"6"}));
  EXPECT_EQ(ColumnText(*dead.dead_letters, "raw"), (std::vector<std::string>{"{\"id\": \"three\"}"}));

  const std::string truncated = WriteFile(dir.File("t.jsonl"), "{\"id\": 1}\n{\"id\": 2, \"pri");
  EXPECT_EQ(UserErrorOf([&] { ReadAll(*MakeJsonlSource(truncated, IdPriceNameSchema(), {})); })
                .rfind(truncated + ":2: invalid JSON (", 0),
            0u);
}

TEST(JsonlReader, ATenMegabyteLine) {
  TempDir dir;
  const std::string big(10 << 20, 'z');
  const std::string path = WriteFile(dir.File("big.jsonl"),
                                     "{\"id\": 1, \"name\": \"" + big + "\"}\n{\"id\": 2, \"name\": \"" +
                                         big + "\"}");  // the second one near the end of the file
  auto result = ReadAll(*MakeJsonlSource(path, IdPriceNameSchema(), {}));
  ASSERT_EQ(result.rows->num_rows(), 2);
  auto names = std::static_pointer_cast<arrow::StringArray>(
      CheckArrow(arrow::Concatenate(result.rows->GetColumnByName("name")->chunks()), "names"));
  EXPECT_EQ(names->GetView(0), big);
  EXPECT_EQ(names->GetView(1), big);
}

TEST(JsonlReader, EmptyFile) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("empty.jsonl"), "");
  auto source = MakeJsonlSource(path, IdPriceNameSchema(), {});
  EXPECT_TRUE(source->schema()->Equals(*IdPriceNameSchema()));
  auto result = ReadAll(*source, 4);
  EXPECT_EQ(result.rows->num_rows(), 0);
  EXPECT_TRUE(result.rows->schema()->Equals(*IdPriceNameSchema()));
  const std::string message = UserErrorOf([&] { MakeJsonlSource(path, nullptr, {}); });
  EXPECT_NE(message.find("cannot infer a schema from " + path), std::string::npos) << message;
}

TEST(JsonlReader, InfersTypesFromTheFirstRows) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("i.jsonl"),
                                     R"({"a": 1, "b": 1, "c": true, "d": "x"})" "\n"
                                     "not json\n"
                                     R"({"b": 2.5, "a": 2, "e": null, "d": "2024-01-02"})" "\n"
                                     R"({"a": null, "f": 18446744073709551615})" "\n");
  auto source = MakeJsonlSource(path, nullptr, WithOnError(OnError::kSkip));
  EXPECT_EQ(source->schema()->ToString(),
            arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::float64()),
                           arrow::field("c", arrow::boolean()), arrow::field("d", arrow::utf8()),
                           arrow::field("e", arrow::utf8()), arrow::field("f", arrow::float64())})
                ->ToString());
  auto result = ReadAll(*source);
  EXPECT_EQ(ColumnText(*result.rows, "b"), (std::vector<std::string>{"1", "2.5", "null"}));

  const std::string nested = WriteFile(dir.File("n.jsonl"), "{\"a\": 1}\n{\"a\": 2, \"o\": {\"x\": 1}}\n");
  EXPECT_EQ(UserErrorOf([&] { MakeJsonlSource(nested, nullptr, {}); }),
            nested + ":2: field 'o': holds a nested JSON value, and millstream reads flat objects "
                     "only; pass a schema to read this file");
  const std::string mixed = WriteFile(dir.File("m.jsonl"), "{\"a\": 1}\n{\"a\": \"1\"}\n");
  EXPECT_NE(UserErrorOf([&] { MakeJsonlSource(mixed, nullptr, {}); }).find(mixed + ":2: field 'a'"),
            std::string::npos);
}

TEST(JsonlReader, UnsupportedSchemaTypeIsAUserError) {
  TempDir dir;
  const std::string path = WriteFile(dir.File("a.jsonl"), "{}\n");
  const std::string message = UserErrorOf([&] {
    MakeJsonlSource(path, arrow::schema({arrow::field("l", arrow::list(arrow::int64()))}), {});
  });
  EXPECT_NE(message.find("field 'l' has type list<item: int64>"), std::string::npos) << message;
}

TEST(IsoTimestamp, RejectsMalformedTextAndRoundTrips) {
  int64_t value = 0;
  for (const char* bad : {"", "2024", "2024-13-01", "2024-02-30", "2023-02-29", "2024-01-02T25:00",
                          "2024-01-02T03:04:05.", "2024-01-02X03:04", "2024-01-02T03:04:05Zjunk",
                          "2024-01-02T03:04:05+2", "2300-01-01T00:00:00"}) {
    EXPECT_FALSE(ParseIsoTimestamp(bad, arrow::TimeUnit::NANO, &value)) << bad;
  }
  EXPECT_TRUE(ParseIsoTimestamp("2000-02-29T12:00:00", arrow::TimeUnit::SECOND, &value));
  EXPECT_EQ(value, 951825600);
  // Formatting then parsing gives the value back, for values around the epoch and far from it.
  for (const int64_t micros : {int64_t{0}, int64_t{-1}, int64_t{1704164645123456},
                               int64_t{-62135596800000000}, int64_t{253402300799999999},
                               int64_t{951825600000001}}) {
    std::string text;
    AppendIsoTimestamp(micros, arrow::TimeUnit::MICRO, true, &text);
    ASSERT_TRUE(ParseIsoTimestamp(text, arrow::TimeUnit::MICRO, &value)) << text;
    EXPECT_EQ(value, micros) << text;
  }
  std::string text;
  AppendIsoTimestamp(-1, arrow::TimeUnit::MILLI, false, &text);
  EXPECT_EQ(text, "1969-12-31T23:59:59.999");
}

TEST(IsoTimestamp, InferenceTakesDatesWithATimeAndSeesTheirZone) {
  bool has_zone = true;
  for (const char* naive : {"2024-01-02T03:04", "2024-01-02 03:04:05", "2024-01-02T03:04:05.123456"}) {
    EXPECT_TRUE(IsIsoDateTime(naive, &has_zone)) << naive;
    EXPECT_FALSE(has_zone) << naive;
  }
  for (const char* zoned : {"2024-01-02T03:04:05Z", "2024-01-02T03:04:05+01:00", "2024-01-02 03:04-05:30"}) {
    EXPECT_TRUE(IsIsoDateTime(zoned, &has_zone)) << zoned;
    EXPECT_TRUE(has_zone) << zoned;
  }
  for (const char* other : {"2024-01-02", "2024-01-02T", "2024-01-02T25:00:00", "soon", "",
                            "2024-01-02T03:04:05 UTC"}) {
    EXPECT_FALSE(IsIsoDateTime(other, &has_zone)) << other;
  }
  EXPECT_EQ(InferredTimestampType(true)->ToString(), "timestamp[us, tz=UTC]");
  EXPECT_EQ(InferredTimestampType(false)->ToString(), "timestamp[us]");
}

}  // namespace
}  // namespace millstream
