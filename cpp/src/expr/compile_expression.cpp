// Compilation: ExpressionNode tree + schema -> bound nodes. Names and types are resolved here,
// before any data is read, so a mistake in a pipeline fails when it is built, with a message that
// quotes the expression. Calls over constants only are folded into constants.
#include <arrow/compute/cast.h>

#include "core/error.h"
#include "core/types.h"
#include "expr/bound_node.h"
#include "expr/expression.h"
#include "expr/kernel_support.h"
#include "expr/type_rules.h"

namespace millstream {

namespace expr {
namespace {

// A conversion the resolver asked for (int32 -> int64, null -> T, string -> large_string,
// timestamp[s] -> timestamp[ms]); none of them can fail on data.
Kernel ConversionKernel(std::shared_ptr<arrow::DataType> to) {
  return [to](const std::vector<arrow::Datum>& args, int64_t) -> arrow::Datum {
    const arrow::Datum& value = args[0];
    if (value.type()->id() == arrow::Type::NA) return arrow::MakeNullScalar(to);
    arrow::compute::CastOptions options = arrow::compute::CastOptions::Unsafe(to);
    EnsureComputeInitialized();
    return CheckArrow(arrow::compute::Cast(value, options), "converting an expression argument");
  };
}

struct Bound {
  std::shared_ptr<const BoundNode> node;
  std::string text;
};

class Compiler {
 public:
  Compiler(const arrow::Schema& schema, std::string whole_text)
      : schema_(schema), whole_text_(std::move(whole_text)) {}

  Bound Bind(const ExpressionNode& node) {
    switch (node.kind) {
      case ExpressionNode::Kind::kColumn: return BindColumn(node);
      case ExpressionNode::Kind::kLiteral:
        return {std::make_shared<LiteralNode>(node.literal), ToString(node)};
      case ExpressionNode::Kind::kAlias: return {Bind(node.args.at(0)).node, ToString(node)};
      case ExpressionNode::Kind::kCall: return BindCall(node);
    }
    MS_CHECK(false, "unknown expression node kind");
  }

 private:
  Bound BindColumn(const ExpressionNode& node) {
    std::vector<int> indices = schema_.GetAllFieldIndices(node.name);
    if (indices.empty()) {
      std::string columns;
      for (const auto& field : schema_.fields()) columns += (columns.empty() ? "" : ", ") + field->name();
      throw UserError("unknown column '" + node.name + "' in expression " + whole_text_ +
                      "; columns: " + (columns.empty() ? "(none)" : columns));
    }
    if (indices.size() > 1) {
      throw UserError("column '" + node.name + "' appears " + std::to_string(indices.size()) +
                      " times in the input; expression " + whole_text_ + " cannot tell them apart");
    }
    return {std::make_shared<ColumnNode>(indices[0], node.name, schema_.field(indices[0])->type()),
            ToString(node)};
  }

  Bound BindCall(const ExpressionNode& node) {
    const Resolver* resolver = FunctionRegistry::Default().Find(node.name);
    if (!resolver) {
      std::string known;
      for (const auto& name : FunctionRegistry::Default().Names()) known += (known.empty() ? "" : ", ") + name;
      throw UserError("unknown expression function '" + node.name + "' in " + whole_text_ +
                      "; known: " + known);
    }
    std::vector<std::shared_ptr<const BoundNode>> args;
    std::vector<ArgumentInfo> infos;
    for (const auto& arg_node : node.args) {
      Bound arg = Bind(arg_node);
      if (node.name != "cast") {
        const bool is_column = arg_node.kind == ExpressionNode::Kind::kColumn;
        RejectUint64Computation(*arg.node->type(), is_column ? arg_node.name : arg.text,
                                "expression " + whole_text_);
      }
      infos.push_back(ArgumentInfo{arg.node->type(), arg.text, arg.node->literal()});
      args.push_back(std::move(arg.node));
    }
    CallSite call(node, std::move(infos));
    ResolvedCall resolved = (*resolver)(call);
    MS_CHECK(resolved.output_type && resolved.kernel, "resolver of '" + node.name + "' returned no kernel");
    if (!resolved.argument_types.empty()) {
      MS_CHECK(resolved.argument_types.size() == args.size(), "argument types of '" + node.name + "'");
      for (size_t i = 0; i < args.size(); ++i) {
        const auto& wanted = resolved.argument_types[i];
        if (wanted && !args[i]->type()->Equals(*wanted)) args[i] = Convert(args[i], wanted);
      }
    }
    bool all_constant = true;
    for (const auto& arg : args) all_constant = all_constant && arg->literal() != nullptr;
    auto call_node = std::make_shared<CallNode>(node.name, std::move(args), resolved.output_type,
                                                std::move(resolved.kernel), std::move(resolved.select));
    if (!all_constant) return {call_node, ToString(node)};
    // A call over constants only is a constant: computed once here, not per batch.
    return {std::make_shared<LiteralNode>(call_node->Evaluate(EmptyBatch()).scalar()), ToString(node)};
  }

  static std::shared_ptr<const BoundNode> Convert(std::shared_ptr<const BoundNode> arg,
                                                  const std::shared_ptr<arrow::DataType>& to) {
    auto node = std::make_shared<CallNode>("(convert to " + TypeName(*to) + ")",
                                           std::vector<std::shared_ptr<const BoundNode>>{arg}, to,
                                           ConversionKernel(to), SelectKernel());
    if (!arg->literal()) return node;
    return std::make_shared<LiteralNode>(node->Evaluate(EmptyBatch()).scalar());
  }

  static const arrow::RecordBatch& EmptyBatch() {
    static const auto batch = arrow::RecordBatch::Make(arrow::schema({}), 0, arrow::ArrayVector{});
    return *batch;
  }

  const arrow::Schema& schema_;
  std::string whole_text_;
};

// The polars-like output name; see CompiledExpression::name().
const std::string* FirstColumnName(const ExpressionNode& node) {
  switch (node.kind) {
    case ExpressionNode::Kind::kColumn:
    case ExpressionNode::Kind::kAlias: return &node.name;
    case ExpressionNode::Kind::kLiteral: return nullptr;
    case ExpressionNode::Kind::kCall: break;
  }
  std::vector<const ExpressionNode*> order;
  if (node.name == "when" && node.args.size() % 2 == 1) {
    for (size_t i = 1; i < node.args.size(); i += 2) order.push_back(&node.args[i]);
    order.push_back(&node.args.back());
    for (size_t i = 0; i + 1 < node.args.size(); i += 2) order.push_back(&node.args[i]);
  } else {
    for (const auto& arg : node.args) order.push_back(&arg);
  }
  for (const ExpressionNode* arg : order) {
    if (const std::string* name = FirstColumnName(*arg)) return name;
  }
  return nullptr;
}

}  // namespace
}  // namespace expr

CompiledExpression::CompiledExpression(std::shared_ptr<const expr::BoundNode> root, std::string name,
                                       std::string text, std::shared_ptr<arrow::Schema> input_schema)
    : root_(std::move(root)), name_(std::move(name)), text_(std::move(text)),
      input_schema_(std::move(input_schema)) {}

const std::shared_ptr<arrow::DataType>& CompiledExpression::type() const { return root_->type(); }

std::shared_ptr<arrow::Array> CompiledExpression::Evaluate(const arrow::RecordBatch& batch) const {
  return expr::ToArray(root_->Evaluate(batch), batch.num_rows());
}

std::shared_ptr<const CompiledExpression> CompileExpression(std::string_view expression_json,
                                                            const arrow::Schema& input_schema) {
  expr::EnsureComputeInitialized();
  expr::ExpressionNode tree = expr::ParseExpressionJson(expression_json);
  std::string text = expr::ToString(tree);
  expr::Compiler compiler(input_schema, text);
  expr::Bound root = compiler.Bind(tree);
  const std::string* first_name = expr::FirstColumnName(tree);
  return std::make_shared<CompiledExpression>(root.node, first_name ? *first_name : "literal",
                                              std::move(text),
                                              std::make_shared<arrow::Schema>(input_schema));
}

std::shared_ptr<const CompiledExpression> CompilePredicate(std::string_view expression_json,
                                                           const arrow::Schema& input_schema) {
  auto predicate = CompileExpression(expression_json, input_schema);
  arrow::Type::type id = predicate->type()->id();
  if (id != arrow::Type::BOOL && id != arrow::Type::NA) {
    throw UserTypeError("filter predicate " + predicate->text() + " has type " +
                        expr::TypeName(*predicate->type()) + "; a filter needs a bool expression");
  }
  return predicate;
}

}  // namespace millstream
