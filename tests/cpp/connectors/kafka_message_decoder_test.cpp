// Kafka messages into batches without a cluster: JSON values with metadata columns, CSV
// records, raw and string values, tombstones and keys, batch boundaries, and bad messages in the three on_error
// modes, named topic[partition]@offset.
#include "connectors/kafka_message_decoder.h"

#include <arrow/array.h>
#include <arrow/table.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "../formats/text_file_testing.h"

namespace millstream {
namespace {

using testing::ColumnText;

SchemaPtr BidSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64())});
}

SchemaPtr CsvSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8()),
                        arrow::field("price", arrow::float64())});
}

KafkaMessageView Message(int64_t offset, std::optional<std::string_view> value,
                         std::optional<std::string_view> key = std::nullopt) {
  KafkaMessageView message;
  message.topic = "bids";
  message.partition = 3;
  message.offset = offset;
  message.value = value;
  message.key = key;
  message.timestamp_ms = 1'700'000'000'000 + offset;
  return message;
}

std::shared_ptr<arrow::Table> TableOf(const BatchPtr& batch) {
  return CheckArrow(arrow::Table::FromRecordBatches({batch}), "table");
}

TEST(KafkaMessageDecoder, JsonValuesThenMetadataColumnsInTheOrderAsked) {
  OperatorMetrics metrics("read_kafka(bids)");
  KafkaMessageDecoder decoder(KafkaFormat::kJson, BidSchema(), {"offset", "key", "partition", "timestamp"},
                              100, "read_kafka(bids)", OnError::kRaise, &metrics);
  decoder.Append(Message(7, R"({"price": 2.5, "id": 1})", "k1"));
  decoder.Append(Message(8, R"({"id": 2, "extra": [1]})"));
  const BatchPtr batch = decoder.FinishRows();
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->schema()->ToString(),
            arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64()),
                           arrow::field("offset", arrow::int64()), arrow::field("key", arrow::utf8()),
                           arrow::field("partition", arrow::int64()),
                           arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MILLI))})
                ->ToString());
  const auto owned = TableOf(batch);
  const arrow::Table& table = *owned;
  EXPECT_EQ(ColumnText(table, "id"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(ColumnText(table, "price"), (std::vector<std::string>{"2.5", "null"}));
  EXPECT_EQ(ColumnText(table, "offset"), (std::vector<std::string>{"7", "8"}));
  EXPECT_EQ(ColumnText(table, "key"), (std::vector<std::string>{"k1", "null"}));
  EXPECT_EQ(ColumnText(table, "partition"), (std::vector<std::string>{"3", "3"}));
  EXPECT_EQ(table.GetColumnByName("timestamp")->chunk(0)->length(), 2);
  EXPECT_EQ(decoder.FinishRows(), nullptr);  // started over
}

TEST(KafkaMessageDecoder, FullAtTheBatchSize) {
  KafkaMessageDecoder decoder(KafkaFormat::kJson, BidSchema(), {}, 2, "read_kafka(bids)",
                              OnError::kRaise, nullptr);
  decoder.Append(Message(0, R"({"id": 1})"));
  EXPECT_FALSE(decoder.full());
  decoder.Append(Message(1, R"({"id": 2})"));
  EXPECT_TRUE(decoder.full());
  EXPECT_EQ(decoder.FinishRows()->num_rows(), 2);
  EXPECT_FALSE(decoder.full());
}

TEST(KafkaMessageDecoder, RawKeepsBytesAndStringNeedsUtf8) {
  KafkaMessageDecoder raw(KafkaFormat::kRaw, nullptr, {}, 10, "read_kafka(bids)", OnError::kRaise,
                          nullptr);
  raw.Append(Message(0, std::string_view("\xff\x00z", 3)));
  raw.Append(Message(1, std::nullopt));  // a tombstone: a null value
  const BatchPtr batch = raw.FinishRows();
  ASSERT_EQ(batch->num_rows(), 2);
  EXPECT_EQ(batch->schema()->field(0)->type()->id(), arrow::Type::BINARY);
  EXPECT_EQ(std::static_pointer_cast<arrow::BinaryArray>(batch->column(0))->GetView(0),
            std::string_view("\xff\x00z", 3));
  EXPECT_TRUE(batch->column(0)->IsNull(1));

  KafkaMessageDecoder text(KafkaFormat::kString, nullptr, {}, 10, "read_kafka(bids)",
                           OnError::kRaise, nullptr);
  text.Append(Message(0, "héllo"));
  EXPECT_EQ(ColumnText(*TableOf(text.FinishRows()), "value"), (std::vector<std::string>{"héllo"}));
  try {
    text.Append(Message(4, "\xff"));
    FAIL() << "expected a UserError";
  } catch (const UserError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("read_kafka(bids): bids[3]@4: invalid UTF-8", 0), 0u)
        << error.what();
  }
}

// Each (value, message start) of `bad`, at offset i, raises a UserError starting so.
void ExpectEachRaises(KafkaFormat format, const SchemaPtr& schema,
                      const std::vector<std::pair<std::string, std::string>>& bad) {
  for (size_t i = 0; i < bad.size(); ++i) {
    KafkaMessageDecoder decoder(format, schema, {}, 10, "read_kafka(bids)", OnError::kRaise, nullptr);
    try {
      decoder.Append(Message(static_cast<int64_t>(i), bad[i].first));
      FAIL() << "expected a UserError for " << bad[i].first;
    } catch (const UserError& error) {
      EXPECT_EQ(std::string(error.what()).rfind("read_kafka(bids): " + bad[i].second, 0), 0u)
          << error.what();
    }
  }
}

TEST(KafkaMessageDecoder, BadMessagesInTheThreeModes) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"id": "x"})", "bids[3]@0: field 'id': expected int64, got \"x\""},
      {"{oops", "bids[3]@1: invalid JSON"},
      {"[1]", "bids[3]@2: expected a JSON object, got [1]"}};
  ExpectEachRaises(KafkaFormat::kJson, BidSchema(), bad);
  OperatorMetrics metrics("read_kafka(bids)");
  KafkaMessageDecoder skip(KafkaFormat::kJson, BidSchema(), {"offset"}, 10, "read_kafka(bids)",
                           OnError::kSkip, &metrics);
  KafkaMessageDecoder dead(KafkaFormat::kJson, BidSchema(), {"offset"}, 10, "read_kafka(bids)",
                           OnError::kDeadLetter, &metrics);
  for (KafkaMessageDecoder* decoder : {&skip, &dead}) {
    decoder->Append(Message(0, R"({"id": 1})"));
    for (size_t i = 0; i < bad.size(); ++i) decoder->Append(Message(1 + i, bad[i].first));
    decoder->Append(Message(9, std::nullopt));  // a tombstone is not a JSON object
    decoder->Append(Message(10, R"({"id": 5})", std::string_view("\xff", 1)));  // key not read
    const BatchPtr rows = decoder->FinishRows();
    EXPECT_EQ(ColumnText(*TableOf(rows), "offset"), (std::vector<std::string>{"0", "10"}));
  }
  EXPECT_EQ(metrics.rows_skipped.load(), 4);
  EXPECT_EQ(metrics.rows_dead_letter.load(), 4);
  const BatchPtr letters = dead.FinishDeadLetters();
  ASSERT_NE(letters, nullptr);
  const auto letters_table = TableOf(letters);
  const arrow::Table& table = *letters_table;
  EXPECT_EQ(ColumnText(table, "source"),
            (std::vector<std::string>{"bids[3]@1", "bids[3]@2", "bids[3]@3", "bids[3]@9"}));
  EXPECT_EQ(ColumnText(table, "field"), (std::vector<std::string>{"id", "null", "null", "null"}));
  EXPECT_EQ(ColumnText(table, "line"), (std::vector<std::string>{"null", "null", "null", "null"}));
  EXPECT_EQ(ColumnText(table, "raw")[0], R"({"id": "x"})");
}

TEST(KafkaMessageDecoder, AKeyThatIsNotUtf8IsBadOnlyWhenAskedFor) {
  KafkaMessageDecoder decoder(KafkaFormat::kJson, BidSchema(), {"key"}, 10, "read_kafka(bids)",
                              OnError::kRaise, nullptr);
  EXPECT_THROW(decoder.Append(Message(0, R"({"id": 1})", std::string_view("\xff", 1))), UserError);
}

TEST(KafkaMessageDecoder, SchemaErrorsNameTheSource) {
  EXPECT_THROW(KafkaMessageDecoder::OutputSchema(KafkaFormat::kJson, nullptr, {}, "read_kafka(b)"),
               UserError);
  EXPECT_THROW(KafkaMessageDecoder::OutputSchema(KafkaFormat::kRaw, BidSchema(), {}, "read_kafka(b)"),
               UserError);
  EXPECT_THROW(KafkaMessageDecoder::OutputSchema(KafkaFormat::kJson, BidSchema(), {"id"}, "read_kafka(b)"),
               UserError);
  // "headers" is a metadata column now (HeadersColumnKeepsOrderRepeatsAndNullValues); an unknown
  // name still fails.
  EXPECT_THROW(KafkaMessageDecoder::OutputSchema(KafkaFormat::kRaw, nullptr, {"header"}, "read_kafka(b)"),
               UserError);
  EXPECT_THROW(ParseKafkaFormat("avro"), UserError);
}

TEST(KafkaMessageDecoder, HeadersColumnKeepsOrderRepeatsAndNullValues) {
  OperatorMetrics metrics("read_kafka(bids)");
  KafkaMessageDecoder decoder(KafkaFormat::kString, nullptr, {"headers"}, 100, "read_kafka(bids)",
                              OnError::kRaise, &metrics);
  EXPECT_TRUE(decoder.wants_headers());
  KafkaMessageView first = Message(1, "a");
  first.headers = {{"h", std::string_view("x")}, {"h", std::nullopt}, {"z", std::string_view("")}};
  decoder.Append(first);
  decoder.Append(Message(2, "b"));
  const auto table = TableOf(decoder.FinishRows());
  const auto headers = table->GetColumnByName("headers")->chunk(0);
  const auto& list = static_cast<const arrow::ListArray&>(*headers);
  ASSERT_EQ(list.length(), 2);
  EXPECT_EQ(list.value_length(0), 3);
  EXPECT_EQ(list.value_length(1), 0);
  const auto& pairs = static_cast<const arrow::StructArray&>(*list.values());
  const auto& names = static_cast<const arrow::StringArray&>(*pairs.field(0));
  const auto& values = static_cast<const arrow::BinaryArray&>(*pairs.field(1));
  EXPECT_EQ(names.GetString(0), "h");
  EXPECT_EQ(names.GetString(1), "h");
  EXPECT_EQ(names.GetString(2), "z");
  EXPECT_EQ(values.GetString(0), "x");
  EXPECT_TRUE(values.IsNull(1));
  EXPECT_EQ(values.GetString(2), "");
}

TEST(KafkaMessageDecoder, BadHeaderNameAndDeadLetterListener) {
  OperatorMetrics metrics("read_kafka(bids)");
  KafkaMessageDecoder decoder(KafkaFormat::kJson, BidSchema(), {"headers"}, 100, "read_kafka(bids)",
                              OnError::kDeadLetter, &metrics);
  std::vector<std::pair<int64_t, std::string>> heard;
  decoder.OnDeadLetter([&](const KafkaMessageView& message, std::string_view reason) {
    heard.emplace_back(message.offset, std::string(reason));
  });
  KafkaMessageView bad_name = Message(5, R"({"id": 1})");
  bad_name.headers = {{std::string_view("\xff", 1), std::string_view("v")}};
  decoder.Append(bad_name);
  decoder.Append(Message(6, R"({"id": "x"})"));
  decoder.Append(Message(7, R"({"id": 3})"));
  EXPECT_EQ(decoder.FinishRows()->num_rows(), 1);
  EXPECT_EQ(decoder.FinishDeadLetters()->num_rows(), 2);
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0], (std::pair<int64_t, std::string>{5, "field 'headers': a header name is not UTF-8"}));
  EXPECT_EQ(heard[1].first, 6);
  EXPECT_EQ(heard[1].second.rfind("field 'id': expected int64", 0), 0u) << heard[1].second;
}

TEST(KafkaMessageDecoder, CsvRecordsAreParsedAsTheCsvFileReaderParsesRows) {
  KafkaMessageDecoder decoder(KafkaFormat::kCsv, CsvSchema(), {"offset"}, 100, "read_kafka(bids)",
                              OnError::kRaise, nullptr, ';');
  decoder.Append(Message(0, "1;plain;2.5"));
  decoder.Append(Message(1, R"(2;"a;b ""quoted"", c";-1e3)" "\r\n"));  // a line end is ignored
  decoder.Append(Message(2, R"(3;"";)"));   // quoted empty: "", unquoted empty: null
  decoder.Append(Message(3, ";;"));         // every field null
  decoder.Append(Message(4, "5;\xc3\xbc;7\n"));
  const auto owned = TableOf(decoder.FinishRows());
  const arrow::Table& table = *owned;
  EXPECT_EQ(ColumnText(table, "id"), (std::vector<std::string>{"1", "2", "3", "null", "5"}));
  EXPECT_EQ(ColumnText(table, "name"),
            (std::vector<std::string>{"plain", "a;b \"quoted\", c", "", "null", "\xc3\xbc"}));
  EXPECT_EQ(ColumnText(table, "price"), (std::vector<std::string>{"2.5", "-1000", "null", "null", "7"}));
  EXPECT_EQ(ColumnText(table, "offset"), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST(KafkaMessageDecoder, BadCsvRecordsInTheThreeModes) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"1,a,abc", "bids[3]@0: field 'price': expected float64, got \"abc\""},
      {"x,a", "bids[3]@1: expected 3 fields, got 2"},          // the count explains the value
      {"1,a,2,3", "bids[3]@2: expected 3 fields, got 4"},
      {R"(1,"a,2)", "bids[3]@3: unterminated quoted field"},
      {R"(1,"a"b,2)", "bids[3]@4: unexpected text after the closing quote"},
      {"1,\xff,2", "bids[3]@5: field 'name': invalid UTF-8"}};
  ExpectEachRaises(KafkaFormat::kCsv, CsvSchema(), bad);
  OperatorMetrics metrics("read_kafka(bids)");
  KafkaMessageDecoder skip(KafkaFormat::kCsv, CsvSchema(), {"offset"}, 10, "read_kafka(bids)",
                           OnError::kSkip, &metrics);
  KafkaMessageDecoder dead(KafkaFormat::kCsv, CsvSchema(), {"offset"}, 10, "read_kafka(bids)",
                           OnError::kDeadLetter, &metrics);
  for (KafkaMessageDecoder* decoder : {&skip, &dead}) {
    for (size_t i = 0; i < bad.size(); ++i) decoder->Append(Message(i, bad[i].first));
    decoder->Append(Message(8, std::nullopt));  // a tombstone is not a record
    decoder->Append(Message(9, "9,ok,1.5"));    // a bad row half written is overwritten
    const auto rows = TableOf(decoder->FinishRows());
    EXPECT_EQ(ColumnText(*rows, "offset"), (std::vector<std::string>{"9"}));
    EXPECT_EQ(ColumnText(*rows, "name"), (std::vector<std::string>{"ok"}));
  }
  EXPECT_EQ(metrics.rows_skipped.load(), 7);
  EXPECT_EQ(metrics.rows_dead_letter.load(), 7);
  const auto letters = TableOf(dead.FinishDeadLetters());
  EXPECT_EQ(ColumnText(*letters, "field"),
            (std::vector<std::string>{"price", "null", "null", "null", "null", "name", "null"}));
  EXPECT_EQ(ColumnText(*letters, "raw")[2], "1,a,2,3");
  EXPECT_EQ(ColumnText(*letters, "source")[6], "bids[3]@8");
}

TEST(KafkaMessageDecoder, CsvNeedsASchema) {
  EXPECT_THROW(KafkaMessageDecoder::OutputSchema(KafkaFormat::kCsv, nullptr, {}, "read_kafka(b)"),
               UserError);
  EXPECT_EQ(ParseKafkaFormat("csv"), KafkaFormat::kCsv);
}

}  // namespace
}  // namespace millstream
