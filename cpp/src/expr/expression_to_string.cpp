// The human form of an expression, as users wrote it in Python: (col("a") + lit(1)),
// col("s").str.contains("x", literal=true), when(c).then(a).otherwise(b). Messages quote it.
#include <charconv>
#include <cmath>
#include <cstdio>

#include "expr/expression.h"
#include "expr/expression_node.h"
#include "expr/type_rules.h"

namespace millstream::expr {

namespace {

std::string QuoteString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string FormatDouble(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string FormatOption(const OptionValue& option) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(bool value) const { return value ? "true" : "false"; }
    std::string operator()(int64_t value) const { return std::to_string(value); }
    std::string operator()(double value) const { return FormatDouble(value); }
    std::string operator()(const std::string& value) const { return QuoteString(value); }
  };
  return std::visit(Visitor{}, option);
}

std::string FormatLiteral(const ExpressionNode& node) {
  const arrow::Scalar& scalar = *node.literal;
  const arrow::DataType& type = *scalar.type;
  std::string value;
  bool inferred_type = false;  // would the JSON value alone give this type?
  if (!scalar.is_valid) {
    value = "null";
    inferred_type = type.id() == arrow::Type::NA;
  } else {
    switch (type.id()) {
      case arrow::Type::INT64:
        value = std::to_string(static_cast<const arrow::Int64Scalar&>(scalar).value);
        inferred_type = true;
        break;
      case arrow::Type::DOUBLE:
        value = FormatDouble(static_cast<const arrow::DoubleScalar&>(scalar).value);
        inferred_type = true;
        break;
      case arrow::Type::BOOL:
        value = static_cast<const arrow::BooleanScalar&>(scalar).value ? "true" : "false";
        inferred_type = true;
        break;
      case arrow::Type::STRING:
        value = QuoteString(static_cast<const arrow::StringScalar&>(scalar).view());
        inferred_type = true;
        break;
      case arrow::Type::LARGE_STRING:
        value = QuoteString(static_cast<const arrow::LargeStringScalar&>(scalar).view());
        break;
      case arrow::Type::TIMESTAMP:
        value = std::to_string(static_cast<const arrow::TimestampScalar&>(scalar).value);
        break;
      default:
        value = scalar.ToString();
    }
  }
  if (inferred_type) return "lit(" + value + ")";
  return "lit(" + value + ", " + TypeName(type) + ")";
}

std::string FormatOptions(const ExpressionNode& node, bool leading_comma) {
  std::string out;
  for (const auto& [key, option] : node.options) {
    if (!out.empty() || leading_comma) out += ", ";
    out += key + "=" + FormatOption(option);
  }
  return out;
}

std::string FormatCall(const ExpressionNode& node) {
  const std::vector<ExpressionNode>& args = node.args;
  if (const char* symbol = OperatorSymbol(node.name)) {
    bool unary = node.name == "neg" || node.name == "not";
    if (!unary && args.size() == 2) return "(" + ToString(args[0]) + " " + symbol + " " + ToString(args[1]) + ")";
    if (unary && args.size() == 1) return symbol + ToString(args[0]);
  }
  if (node.name == "when" && args.size() % 2 == 1) {
    std::string out;
    for (size_t i = 0; i + 1 < args.size(); i += 2) {
      out += (i == 0 ? "when(" : ".when(") + ToString(args[i]) + ").then(" + ToString(args[i + 1]) + ")";
    }
    return out + (args.size() == 1 ? "otherwise(" : ".otherwise(") + ToString(args.back()) + ")";
  }
  if (node.name == "cast" && args.size() == 1 && node.options.size() == 1 &&
      node.options.count("type") && std::holds_alternative<std::string>(node.options.at("type"))) {
    return ToString(args[0]) + ".cast(" + std::get<std::string>(node.options.at("type")) + ")";
  }
  // A method on its first argument, like the Python API: col("s").str.slice(start=1, length=2).
  if (!args.empty() && node.name != "from_epoch") {
    std::string out = ToString(args[0]) + "." + node.name + "(";
    for (size_t i = 1; i < args.size(); ++i) out += (i > 1 ? ", " : "") + ToString(args[i]);
    return out + FormatOptions(node, args.size() > 1) + ")";
  }
  std::string out = node.name + "(";
  for (size_t i = 0; i < args.size(); ++i) out += (i > 0 ? ", " : "") + ToString(args[i]);
  return out + FormatOptions(node, !args.empty()) + ")";
}

}  // namespace

const char* OperatorSymbol(const std::string& function_name) {
  static const std::map<std::string, const char*> kSymbols = {
      {"add", "+"}, {"sub", "-"},  {"mul", "*"},  {"truediv", "/"}, {"floordiv", "//"},
      {"mod", "%"}, {"eq", "=="},  {"ne", "!="},  {"lt", "<"},      {"le", "<="},
      {"gt", ">"},  {"ge", ">="},  {"and", "&"},  {"or", "|"},      {"neg", "-"},
      {"not", "~"}};
  auto found = kSymbols.find(function_name);
  return found == kSymbols.end() ? nullptr : found->second;
}

std::string ToString(const ExpressionNode& node) {
  switch (node.kind) {
    case ExpressionNode::Kind::kColumn: return "col(" + QuoteString(node.name) + ")";
    case ExpressionNode::Kind::kLiteral: return FormatLiteral(node);
    case ExpressionNode::Kind::kAlias:
      return ToString(node.args.at(0)) + ".alias(" + QuoteString(node.name) + ")";
    case ExpressionNode::Kind::kCall: return FormatCall(node);
  }
  return "?";
}

}  // namespace millstream::expr

namespace millstream {

std::string ExpressionToString(std::string_view expression_json) {
  return expr::ToString(expr::ParseExpressionJson(expression_json));
}

}  // namespace millstream
