// and or not (three-valued / Kleene logic: null & false = false, null | true = true) and
// is_null / is_not_null. Arrow's bitmap kernels already mean exactly this and run a word at a time.
#include "expr/function_registry.h"
#include "expr/kernel_support.h"
#include "expr/type_rules.h"

namespace millstream::expr {

namespace {

bool IsBoolOrNull(const arrow::DataType& type) {
  TypeKind kind = KindOf(type);
  return kind == TypeKind::kBool || kind == TypeKind::kNull;
}

Resolver ResolveKleene(std::string arrow_function) {
  return [arrow_function](const CallSite& call) {
    if (call.args().size() < 2) call.ExpectArgCount(2);
    for (const auto& arg : call.args()) {
      if (!IsBoolOrNull(*arg.type)) call.FailTypes("both sides must be bool");
    }
    ResolvedCall resolved;
    resolved.output_type = arrow::boolean();
    resolved.argument_types.assign(call.args().size(), arrow::boolean());
    resolved.kernel = [arrow_function](const std::vector<arrow::Datum>& args, int64_t) {
      arrow::Datum result = CallArrow(arrow_function, {args[0], args[1]});
      for (size_t i = 2; i < args.size(); ++i) result = CallArrow(arrow_function, {result, args[i]});
      return result;
    };
    return resolved;
  };
}

ResolvedCall ResolveNot(const CallSite& call) {
  call.ExpectArgCount(1);
  if (!IsBoolOrNull(*call.arg(0).type)) call.FailTypes("'~' needs a bool");
  ResolvedCall resolved;
  resolved.output_type = arrow::boolean();
  resolved.argument_types = {arrow::boolean()};
  resolved.kernel = [](const std::vector<arrow::Datum>& args, int64_t) { return CallArrow("invert", args); };
  return resolved;
}

// NaN is a value, not a null (as in polars).
Resolver ResolveNullTest(std::string arrow_function) {
  return [arrow_function](const CallSite& call) {
    call.ExpectArgCount(1);
    ResolvedCall resolved;
    resolved.output_type = arrow::boolean();
    resolved.kernel = [arrow_function](const std::vector<arrow::Datum>& args, int64_t) {
      return CallArrow(arrow_function, args);
    };
    return resolved;
  };
}

}  // namespace

void RegisterLogicalFunctions(FunctionRegistry& registry) {
  registry.Add("and", "a & b over bools, Kleene logic: null & false = false, null & true = null.",
               ResolveKleene("and_kleene"));
  registry.Add("or", "a | b over bools, Kleene logic: null | true = true, null | false = null.",
               ResolveKleene("or_kleene"));
  registry.Add("not", "~a over bools; ~null = null.", ResolveNot);
  registry.Add("is_null", "true where the value is null (NaN is not null).", ResolveNullTest("is_null"));
  registry.Add("is_not_null", "true where the value is not null.", ResolveNullTest("is_valid"));
}

}  // namespace millstream::expr
