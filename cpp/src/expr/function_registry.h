// The expression-function registry: a function name ("add", "str.lower") maps to a resolver
// that checks the argument types of one call site at compile time and returns the output type
// and the kernel that computes it. Each family registers itself in its own file
// (RegisterArithmeticFunctions in arithmetic_functions.cpp, ...), as Arrow's kernels do.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/datum.h>
#include <arrow/type.h>

#include "expr/expression_node.h"
#include "expr/row_selection.h"

namespace millstream::expr {

// One argument of a call, as a resolver sees it.
struct ArgumentInfo {
  std::shared_ptr<arrow::DataType> type;
  std::string text;                      // its human form, for messages
  const arrow::Scalar* literal = nullptr;  // set if the argument is a constant
};

// One call of a function in an expression: arguments, options, and the helpers that build
// messages naming them.
class CallSite {
 public:
  CallSite(const ExpressionNode& node, std::vector<ArgumentInfo> args)
      : node_(node), args_(std::move(args)) {}

  const std::string& function() const { return node_.name; }
  const std::vector<ArgumentInfo>& args() const { return args_; }
  const ArgumentInfo& arg(size_t i) const { return args_.at(i); }
  std::string text() const { return ToString(node_); }
  // '+' for operators, else the function name: 'str.lower'.
  std::string display_name() const;

  // Throws UserError unless the call has exactly (or at least) this many arguments.
  void ExpectArgCount(size_t count) const;

  // Options. Each throws UserError naming the call if the option is missing or of the wrong type.
  std::string StringOption(const std::string& key) const;
  bool BoolOption(const std::string& key, bool default_value) const;
  int64_t IntOption(const std::string& key) const;
  std::optional<int64_t> OptionalIntOption(const std::string& key) const;  // absent or null: nullopt

  // UserTypeError "cannot apply '+' to col("s") (string) and lit(1) (int64)" plus `hint`.
  [[noreturn]] void FailTypes(const std::string& hint = "") const;
  // UserError "<what> in <call text>".
  [[noreturn]] void FailOption(const std::string& what) const;

 private:
  const OptionValue* FindOption(const std::string& key) const;

  const ExpressionNode& node_;
  std::vector<ArgumentInfo> args_;
};

// Computes a call over the arguments' values. Each argument is an Array of num_rows values or a
// Scalar (a constant); the result is either. At least one argument is an Array when called by
// the evaluator (calls over constants only are folded through one-row arrays).
using Kernel = std::function<arrow::Datum(const std::vector<arrow::Datum>& args, int64_t num_rows)>;

// Optional fused form of a bool function for filters: the rows where the call is true, without
// materialising the bool column.
using SelectKernel =
    std::function<RowSelection(const std::vector<arrow::Datum>& args, int64_t num_rows)>;

struct ResolvedCall {
  std::shared_ptr<arrow::DataType> output_type;
  Kernel kernel;
  // The types the kernel expects its arguments in, one per argument; an argument of another type
  // is converted before the kernel sees it (int32 -> int64, null -> int64). Empty: as they are.
  std::vector<std::shared_ptr<arrow::DataType>> argument_types;
  SelectKernel select;  // may be empty
};

using Resolver = std::function<ResolvedCall(const CallSite& call)>;

class FunctionRegistry {
 public:
  // `doc` says what the function does, in one or two sentences, with its type rules.
  void Add(const std::string& name, std::string doc, Resolver resolver);
  const Resolver* Find(const std::string& name) const;
  const std::string* Doc(const std::string& name) const;
  std::vector<std::string> Names() const;

  // The registry holding every millstream expression function.
  static const FunctionRegistry& Default();

 private:
  struct Entry {
    std::string doc;
    Resolver resolver;
  };
  std::map<std::string, Entry> entries_;
};

// One per family file.
void RegisterArithmeticFunctions(FunctionRegistry& registry);
void RegisterComparisonFunctions(FunctionRegistry& registry);
void RegisterLogicalFunctions(FunctionRegistry& registry);
void RegisterConditionalFunctions(FunctionRegistry& registry);
void RegisterCastFunction(FunctionRegistry& registry);
void RegisterStringFunctions(FunctionRegistry& registry);
void RegisterTemporalFunctions(FunctionRegistry& registry);

}  // namespace millstream::expr
