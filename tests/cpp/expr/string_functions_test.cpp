#include "expr_test_util.h"

namespace millstream {
namespace {

using namespace expr_test;

// Expected values were produced by polars 1.x (str.len_chars, str.slice, str.contains, ...) on the
// same strings, except where a comment says otherwise.
const char* kStrings = R"(["héllo", "ÄÖÜäöü", "日本語テキスト", "a😀b", "", null, "Straße", "ΣΊΣΥΦΟΣ", "MiXeD 123"])";

BatchPtr Strings(const std::shared_ptr<arrow::DataType>& type) {
  return MakeBatch({{"s", ArrayOf(type, kStrings)}});
}

class StringFunctions : public ::testing::TestWithParam<std::shared_ptr<arrow::DataType>> {};

TEST_P(StringFunctions, LengthCountsCharacters) {
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[5, 6, 7, 3, 0, null, 6, 7, 9]"),
                      Eval(Call("str.len", {Col("s")}), Strings(GetParam())));
}

TEST_P(StringFunctions, LowerAndUpper) {
  auto type = GetParam();
  auto batch = Strings(type);
  // Per code point (utf8proc): "ß" upper is "ẞ" and a final sigma lowers to "σ", where polars
  // gives "SS" and "ς".
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["HÉLLO", "ÄÖÜÄÖÜ", "日本語テキスト", "A😀B", "", null, "STRAẞE", "ΣΊΣΥΦΟΣ", "MIXED 123"])"),
                      Eval(Call("str.upper", {Col("s")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["héllo", "äöüäöü", "日本語テキスト", "a😀b", "", null, "straße", "σίσυφοσ", "mixed 123"])"),
                      Eval(Call("str.lower", {Col("s")}), batch));
  // the ASCII fast path, also on a slice whose offsets do not start at zero
  auto ascii = MakeBatch({{"s", ArrayOf(type, R"(["Hello", "WORLD", null, "a-Z@[`{", "x"])")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["hello", "world", null, "a-z@[`{"])"),
                      Eval(Call("str.lower", {Col("s")}), ascii->Slice(0, 4)));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["WORLD", null, "A-Z@[`{"])"), Eval(Call("str.upper", {Col("s")}), ascii->Slice(1, 3)));
}

TEST_P(StringFunctions, SliceCountsCharactersLikePolars) {
  auto type = GetParam();
  auto batch = Strings(type);
  auto slice = [&](int64_t start, std::optional<int64_t> length) {
    std::string options = "\"start\":" + std::to_string(start) + ",\"length\":" + (length ? std::to_string(*length) : "null");
    return Eval(Call("str.slice", {Col("s")}, options), batch);
  };
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["éll", "ÖÜä", "本語テ", "😀b", "", null, "tra", "ΊΣΥ", "iXe"])"), slice(1, 3));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["ll", "äö", "キス", "a😀", "", null, "aß", "ΦΟ", "12"])"), slice(-3, 2));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["hél", "ÄÖÜä", "日本語テキ", "a", "", null, "Stra", "ΣΊΣΥΦ", "MiXeD 1"])"), slice(-10, 8));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["llo", "Üäöü", "語テキスト", "b", "", null, "raße", "ΣΥΦΟΣ", "XeD 123"])"), slice(2, std::nullopt));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["", "", "", "", "", null, "", "", ""])"), slice(10, 1));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["lo", "öü", "スト", "😀b", "", null, "ße", "ΟΣ", "23"])"), slice(-2, std::nullopt));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["", "", "", "", "", null, "", "", ""])"), slice(0, 0));
  EXPECT_THROW(CompileExpression(Call("str.slice", {Col("s")}, "\"start\":0,\"length\":-1"), *batch->schema()), UserError);
  // A length up to 2**63-1 means "to the end" (start + length used to wrap and give "").
  EXPECT_ARRAYS_EQUAL(slice(1, std::nullopt), slice(1, INT64_MAX));
  EXPECT_ARRAYS_EQUAL(slice(-2, std::nullopt), slice(-2, INT64_MAX));
  EXPECT_ARRAYS_EQUAL(ArrayOf(type, R"(["", "", "", "", "", null, "", "", ""])"), slice(INT64_MAX, INT64_MAX));
}

TEST_P(StringFunctions, ContainsStartsEnds) {
  auto batch = Strings(GetParam());
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, true, true, false, false, null, false, false, false]"),
                      Eval(Call("str.contains", {Col("s")}, "\"pattern\":\"ö|本\""), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, false, false, true, false, null, false, false, false]"),
                      Eval(Call("str.contains", {Col("s")}, "\"pattern\":\"😀\",\"literal\":true"), batch));
  // literal: regex metacharacters are plain characters
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, false, false, false, false, null, false, false, false]"),
                      Eval(Call("str.contains", {Col("s")}, "\"pattern\":\"h.llo\",\"literal\":true"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, false, false, false, false, null, false, false, false]"),
                      Eval(Call("str.contains", {Col("s")}, "\"pattern\":\"^h.llo$\""), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[true, true, true, true, true, null, true, true, true]"),
                      Eval(Call("str.contains", {Col("s")}, "\"pattern\":\"\",\"literal\":true"), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, true, false, false, false, null, false, false, false]"),
                      Eval(Call("str.starts_with", {Col("s")}, "\"pattern\":\"Ä\""), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, false, false, false, false, null, true, false, false]"),
                      Eval(Call("str.ends_with", {Col("s")}, "\"pattern\":\"ße\""), batch));
}

INSTANTIATE_TEST_SUITE_P(StringAndLargeString, StringFunctions, ::testing::Values(arrow::utf8(), arrow::large_utf8()),
                         [](const auto& info) { return info.param->id() == arrow::Type::STRING ? "string" : "large_string"; });

// The literal search runs over the whole data buffer; a hit that spans two rows must not count.
TEST(StringFunctionRandom, ContainsLiteralMatchesPerRowSearch) {
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<int> length(0, 6), letter(0, 2), null(0, 9);
  for (auto type : {arrow::utf8(), arrow::large_utf8()}) {
    std::vector<std::optional<std::string>> values;
    std::string json = "[";
    for (int i = 0; i < 3000; ++i) {
      if (null(rng) == 0) {
        values.push_back(std::nullopt);
      } else {
        std::string text;
        for (int n = length(rng); n > 0; --n) text += static_cast<char>('a' + letter(rng));
        values.push_back(text);
      }
      json += (i ? "," : "") + (values.back() ? Quote(*values.back()) : std::string("null"));
    }
    auto batch = MakeBatch({{"s", ArrayOf(type, json + "]")}});
    for (const std::string pattern : {"a", "ab", "ba", "abc", "cc", "aaaa", "abcabc"}) {
      for (int64_t offset : {0, 5}) {  // also a sliced column
        auto sliced = batch->Slice(offset);
        auto result = std::static_pointer_cast<arrow::BooleanArray>(
            Eval(Call("str.contains", {Col("s")}, "\"pattern\":" + Quote(pattern) + ",\"literal\":true"), sliced));
        int mismatches = 0;
        for (int64_t i = 0; i < sliced->num_rows(); ++i) {
          const auto& value = values[offset + i];
          std::optional<bool> expected;
          if (value) expected = value->find(pattern) != std::string::npos;
          std::optional<bool> actual;
          if (result->IsValid(i)) actual = result->Value(i);
          mismatches += expected != actual;
        }
        EXPECT_EQ(mismatches, 0) << pattern << " " << type->ToString() << " offset " << offset;
      }
    }
  }
}

TEST(StringFunctionErrors, BadRegexAndNonStrings) {
  auto batch = MakeBatch({{"s", ArrayOf(arrow::utf8(), R"(["a"])")}, {"n", ArrayOf(arrow::int64(), "[1]")}});
  std::string message = ErrorMessage<UserError>(
      [&] { CompileExpression(Call("str.contains", {Col("s")}, "\"pattern\":\"(unclosed\""), *batch->schema()); });
  EXPECT_NE(message.find("invalid regular expression \"(unclosed\""), std::string::npos) << message;
  EXPECT_NE(message.find("in col(\"s\").str.contains(pattern=\"(unclosed\")"), std::string::npos) << message;
  EXPECT_EQ(ErrorMessage<UserTypeError>([&] { CompileExpression(Call("str.len", {Col("n")}), *batch->schema()); }),
            "cannot apply 'str.len' to col(\"n\") (int64): it needs a string");
  // a constant string is folded
  auto folded = CompileExpression(Call("str.upper", {LitS("abc")}), *batch->schema());
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["ABC"])"), folded->Evaluate(*batch));
}

}  // namespace
}  // namespace millstream

namespace millstream {
namespace {

using namespace expr_test;

// polars hands strings over as string_view; they are read through a conversion to string.
TEST(StringFunctionViews, StringViewColumnsWork) {
  auto batch = MakeBatch({{"s", ArrayOf(arrow::utf8_view(), R"(["héllo", null, "a much longer string than twelve", "x"])")}});
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::int64(), "[5, null, 32, 1]"), Eval(Call("str.len", {Col("s")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8(), R"(["HÉLLO", null, "A MUCH LONGER STRING THAN TWELVE", "X"])"),
                      Eval(Call("str.upper", {Col("s")}), batch));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::boolean(), "[false, null, true, false]"),
                      Eval(Call("eq", {Col("s"), LitS("a much longer string than twelve")}), batch));
  auto kept = FilterBatch(batch, *CompilePredicate(Call("gt", {Call("str.len", {Col("s")}), Lit(1)}), *batch->schema()));
  EXPECT_ARRAYS_EQUAL(ArrayOf(arrow::utf8_view(), R"(["héllo", "a much longer string than twelve"])"), kept->column(0));
}

}  // namespace
}  // namespace millstream
