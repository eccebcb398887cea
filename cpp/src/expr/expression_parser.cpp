// JSON -> ExpressionNode with simdjson's DOM. The JSON comes from the Python side, but it can also
// be written by hand, so every malformed piece is a UserError that quotes the piece.
#include <simdjson.h>

#include <limits>

#include <arrow/util/value_parsing.h>

#include "core/error.h"
#include "core/types.h"
#include "expr/expression_node.h"

namespace millstream::expr {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string Quote(const element& value) { return simdjson::minify(value); }

[[noreturn]] void Malformed(const element& value, const std::string& why) {
  throw UserError("malformed expression " + Quote(value) + ": " + why);
}

bool ReadInt64(const element& value, int64_t* out) {
  if (value.type() == element_type::INT64) {
    *out = value.get_int64().value_unsafe();
    return true;
  }
  if (value.type() == element_type::UINT64) {
    uint64_t big = value.get_uint64().value_unsafe();
    if (big > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(big);
    return true;
  }
  return false;
}

// The value part of {"lit": value, "type": type}.
std::shared_ptr<arrow::Scalar> MakeLiteral(const element& object, const element& value,
                                           const std::shared_ptr<arrow::DataType>& type) {
  if (value.type() == element_type::NULL_VALUE) return arrow::MakeNullScalar(type);
  auto mismatch = [&]() -> std::shared_ptr<arrow::Scalar> {
    Malformed(object, "the value " + Quote(value) + " is not a " + type->ToString());
  };
  int64_t integer = 0;
  switch (type->id()) {
    case arrow::Type::NA:
      return mismatch();
    case arrow::Type::INT8: case arrow::Type::INT16: case arrow::Type::INT32:
    case arrow::Type::INT64: case arrow::Type::UINT8: case arrow::Type::UINT16:
    case arrow::Type::UINT32: case arrow::Type::UINT64: {
      if (!ReadInt64(value, &integer)) return mismatch();
      auto scalar = std::make_shared<arrow::Int64Scalar>(integer);
      if (type->id() == arrow::Type::INT64) return scalar;
      auto cast = scalar->CastTo(type);
      if (!cast.ok()) Malformed(object, cast.status().message());
      return *cast;
    }
    case arrow::Type::HALF_FLOAT: case arrow::Type::FLOAT: case arrow::Type::DOUBLE: {
      double number = 0;
      if (ReadInt64(value, &integer)) {
        number = static_cast<double>(integer);
      } else if (value.type() == element_type::DOUBLE) {
        number = value.get_double().value_unsafe();
      } else {
        return mismatch();
      }
      auto scalar = std::make_shared<arrow::DoubleScalar>(number);
      if (type->id() == arrow::Type::DOUBLE) return scalar;
      auto cast = scalar->CastTo(type);
      if (!cast.ok()) Malformed(object, cast.status().message());
      return *cast;
    }
    case arrow::Type::BOOL:
      if (value.type() != element_type::BOOL) return mismatch();
      return std::make_shared<arrow::BooleanScalar>(value.get_bool().value_unsafe());
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING: {
      if (value.type() != element_type::STRING) return mismatch();
      std::string text(value.get_string().value_unsafe());
      if (type->id() == arrow::Type::STRING) return std::make_shared<arrow::StringScalar>(text);
      return std::make_shared<arrow::LargeStringScalar>(text);
    }
    case arrow::Type::TIMESTAMP: {
      const auto& timestamp_type = static_cast<const arrow::TimestampType&>(*type);
      if (!ReadInt64(value, &integer)) {
        // An ISO 8601 string is accepted too, read as UTC (hand-written plans are easier to read).
        if (value.type() != element_type::STRING) return mismatch();
        std::string_view text = value.get_string().value_unsafe();
        if (!arrow::internal::ParseTimestampISO8601(text.data(), text.size(),
                                                    timestamp_type.unit(), &integer)) {
          return mismatch();
        }
      }
      return std::make_shared<arrow::TimestampScalar>(integer, type);
    }
    default:
      Malformed(object, "literals of type " + type->ToString() + " are not supported");
  }
}

std::shared_ptr<arrow::DataType> InferLiteralType(const element& value) {
  switch (value.type()) {
    case element_type::INT64: case element_type::UINT64: return arrow::int64();
    case element_type::DOUBLE: return arrow::float64();
    case element_type::BOOL: return arrow::boolean();
    case element_type::STRING: return arrow::utf8();
    case element_type::NULL_VALUE: return arrow::null();
    default: return nullptr;
  }
}

OptionValue ReadOption(const element& object, std::string_view key, const element& value) {
  int64_t integer = 0;
  if (ReadInt64(value, &integer)) return integer;
  switch (value.type()) {
    case element_type::DOUBLE: return value.get_double().value_unsafe();
    case element_type::BOOL: return value.get_bool().value_unsafe();
    case element_type::STRING: return std::string(value.get_string().value_unsafe());
    case element_type::NULL_VALUE: return std::monostate{};
    default: Malformed(object, "option '" + std::string(key) + "' must be a number, bool, string or null");
  }
}

ExpressionNode ParseNode(const element& value) {
  if (value.type() != element_type::OBJECT) Malformed(value, "an expression is a JSON object");
  simdjson::dom::object object = value.get_object().value_unsafe();
  ExpressionNode node;
  element field;
  if (object["col"].get(field) == simdjson::SUCCESS) {
    if (field.type() != element_type::STRING) Malformed(value, "\"col\" must be a string");
    node.kind = ExpressionNode::Kind::kColumn;
    node.name = std::string(field.get_string().value_unsafe());
    return node;
  }
  if (object["lit"].get(field) == simdjson::SUCCESS) {
    node.kind = ExpressionNode::Kind::kLiteral;
    element type_field;
    std::shared_ptr<arrow::DataType> type;
    if (object["type"].get(type_field) == simdjson::SUCCESS &&
        type_field.type() != element_type::NULL_VALUE) {
      if (type_field.type() != element_type::STRING) Malformed(value, "\"type\" must be a string");
      std::string type_name(type_field.get_string().value_unsafe());
      type = type_name == "null" ? arrow::null() : ParseType(type_name);
      node.literal_type_given = true;
    } else {
      type = InferLiteralType(field);
      if (!type) Malformed(value, "a literal is a number, bool, string or null");
    }
    node.literal = MakeLiteral(value, field, type);
    return node;
  }
  if (object["alias"].get(field) == simdjson::SUCCESS) {
    if (field.type() != element_type::STRING) Malformed(value, "\"alias\" must be a string");
    node.kind = ExpressionNode::Kind::kAlias;
    node.name = std::string(field.get_string().value_unsafe());
    element inner;
    if (object["expr"].get(inner) != simdjson::SUCCESS) Malformed(value, "an alias needs \"expr\"");
    node.args.push_back(ParseNode(inner));
    return node;
  }
  if (object["fn"].get(field) == simdjson::SUCCESS) {
    if (field.type() != element_type::STRING) Malformed(value, "\"fn\" must be a string");
    node.kind = ExpressionNode::Kind::kCall;
    node.name = std::string(field.get_string().value_unsafe());
    for (auto [key, option] : object) {
      if (key == "fn") continue;
      if (key == "args") {
        if (option.type() != element_type::ARRAY) Malformed(value, "\"args\" must be an array");
        simdjson::dom::array arguments = option.get_array().value_unsafe();  // a copy: the result is a temporary
        for (element argument : arguments) {
          node.args.push_back(ParseNode(argument));
        }
        continue;
      }
      node.options[std::string(key)] = ReadOption(value, key, option);
    }
    return node;
  }
  Malformed(value, "expected one of the keys \"col\", \"lit\", \"alias\", \"fn\"");
}

}  // namespace

ExpressionNode ParseExpressionJson(std::string_view expression_json) {
  simdjson::dom::parser parser;
  element root;
  auto error = parser.parse(expression_json.data(), expression_json.size()).get(root);
  if (error) {
    throw UserError("malformed expression JSON (" + std::string(simdjson::error_message(error)) +
                    "): " + std::string(expression_json.substr(0, 200)));
  }
  return ParseNode(root);
}

}  // namespace millstream::expr
