// The parsed, not yet type-checked form of an expression: a tree read from the JSON that the
// Python side emits. Compilation (compile_expression.cpp) turns it into bound nodes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <arrow/scalar.h>

namespace millstream::expr {

// An option of a function call ({"fn": "str.slice", "start": -2, "length": null}).
using OptionValue = std::variant<std::monostate, bool, int64_t, double, std::string>;

struct ExpressionNode {
  enum class Kind { kColumn, kLiteral, kAlias, kCall };

  Kind kind = Kind::kLiteral;
  // kColumn: the column; kAlias: the new name; kCall: the function name ("add", "str.lower").
  std::string name;
  // kLiteral: a typed value; a null literal is a null scalar of its type (arrow::null() if untyped).
  std::shared_ptr<arrow::Scalar> literal;
  // kLiteral: true if the JSON named the type, false if it was inferred from the value.
  bool literal_type_given = false;
  // kAlias: the one aliased expression; kCall: the arguments.
  std::vector<ExpressionNode> args;
  // kCall: every key of the JSON object except "fn" and "args".
  std::map<std::string, OptionValue> options;
};

// Throws UserError for malformed JSON or a malformed expression object.
ExpressionNode ParseExpressionJson(std::string_view expression_json);

// Human form, e.g. (col("a") + lit(1)), col("s").str.slice(start=1, length=2).
std::string ToString(const ExpressionNode& node);

// The symbol of a binary or unary operator function ("add" -> "+", "not" -> "~"), or nullptr.
const char* OperatorSymbol(const std::string& function_name);

}  // namespace millstream::expr
