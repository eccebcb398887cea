// Helpers for expression tests: expression JSON as the Python side writes it, arrays from JSON,
// and one-call evaluation.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <arrow/api.h>
#include <arrow/json/from_string.h>

#include "core/error.h"
#include "expr/expression.h"

namespace millstream::expr_test {

inline std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

inline std::string Col(const std::string& name) { return "{\"col\":" + Quote(name) + "}"; }
inline std::string Lit(int64_t value) { return "{\"lit\":" + std::to_string(value) + ",\"type\":\"int64\"}"; }
inline std::string LitF(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  std::string text = buffer;
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return "{\"lit\":" + text + ",\"type\":\"float64\"}";
}
inline std::string LitB(bool value) { return std::string("{\"lit\":") + (value ? "true" : "false") + ",\"type\":\"bool\"}"; }
inline std::string LitS(const std::string& value) { return "{\"lit\":" + Quote(value) + ",\"type\":\"string\"}"; }
inline std::string LitNull(const std::string& type = "null") { return "{\"lit\":null,\"type\":" + Quote(type) + "}"; }
inline std::string LitTyped(const std::string& value_json, const std::string& type) {
  return "{\"lit\":" + value_json + ",\"type\":" + Quote(type) + "}";
}
inline std::string Alias(const std::string& name, const std::string& inner) {
  return "{\"alias\":" + Quote(name) + ",\"expr\":" + inner + "}";
}
// options_json: extra members without braces, e.g. "\"pattern\":\"x\",\"literal\":true".
inline std::string Call(const std::string& fn, const std::vector<std::string>& args,
                        const std::string& options_json = "") {
  std::string out = "{\"fn\":" + Quote(fn) + ",\"args\":[";
  for (size_t i = 0; i < args.size(); ++i) out += (i ? "," : "") + args[i];
  out += "]";
  if (!options_json.empty()) out += "," + options_json;
  return out + "}";
}

inline std::shared_ptr<arrow::Array> ArrayOf(const std::shared_ptr<arrow::DataType>& type,
                                             const std::string& json) {
  auto result = arrow::json::ArrayFromJSONString(type, json);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return *result;
}

inline BatchPtr MakeBatch(const std::vector<std::pair<std::string, std::shared_ptr<arrow::Array>>>& columns) {
  arrow::FieldVector fields;
  arrow::ArrayVector arrays;
  int64_t rows = columns.empty() ? 0 : columns[0].second->length();
  for (const auto& [name, array] : columns) {
    fields.push_back(arrow::field(name, array->type()));
    arrays.push_back(array);
  }
  return arrow::RecordBatch::Make(arrow::schema(fields), rows, arrays);
}

inline std::shared_ptr<arrow::Array> Eval(const std::string& expression, const BatchPtr& batch) {
  auto compiled = CompileExpression(expression, *batch->schema());
  auto result = compiled->Evaluate(*batch);
  EXPECT_TRUE(result->type()->Equals(*compiled->type()))
      << result->type()->ToString() << " vs " << compiled->type()->ToString();
  EXPECT_EQ(result->length(), batch->num_rows());
  auto valid = result->ValidateFull();
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  return result;
}

#define EXPECT_ARRAYS_EQUAL(expected, actual)                                                    \
  do {                                                                                           \
    auto expected_array = (expected);                                                            \
    auto actual_array = (actual);                                                                \
    EXPECT_TRUE(actual_array->Equals(*expected_array, arrow::EqualOptions().nans_equal(true)))   \
        << "expected " << expected_array->ToString() << "\nactual " << actual_array->ToString(); \
  } while (false)

// The message of the UserError (or subclass) that `body` throws, or "" if it throws none.
template <typename ErrorType, typename Body>
std::string ErrorMessage(Body&& body) {
  try {
    body();
  } catch (const ErrorType& error) {
    return error.what();
  }
  return "";
}

// A random column of `length` values drawn from `distribution`, each null with probability
// null_fraction; *values gets the same values (nullopt for null) for a reference computation.
template <typename Builder, typename Distribution>
std::shared_ptr<arrow::Array> RandomColumn(
    std::mt19937_64& rng, int64_t length, Distribution distribution, double null_fraction,
    std::vector<std::optional<typename Distribution::result_type>>* values) {
  Builder builder;
  std::bernoulli_distribution is_null(null_fraction);
  values->clear();
  for (int64_t i = 0; i < length; ++i) {
    if (is_null(rng)) {
      EXPECT_TRUE(builder.AppendNull().ok());
      values->push_back(std::nullopt);
    } else {
      auto v = distribution(rng);
      EXPECT_TRUE(builder.Append(v).ok());
      values->push_back(v);
    }
  }
  return *builder.Finish();
}

// Random int64 column with nulls (null_fraction) and values in [low, high].
inline std::shared_ptr<arrow::Array> RandomInt64(std::mt19937_64& rng, int64_t length, int64_t low,
                                                 int64_t high, double null_fraction,
                                                 std::vector<std::optional<int64_t>>* values) {
  return RandomColumn<arrow::Int64Builder>(
      rng, length, std::uniform_int_distribution<int64_t>(low, high), null_fraction, values);
}

// Random float64 column with nulls (null_fraction) and values in [low, high).
inline std::shared_ptr<arrow::Array> RandomDouble(std::mt19937_64& rng, int64_t length, double low,
                                                  double high, double null_fraction,
                                                  std::vector<std::optional<double>>* values) {
  return RandomColumn<arrow::DoubleBuilder>(
      rng, length, std::uniform_real_distribution<double>(low, high), null_fraction, values);
}

}  // namespace millstream::expr_test
