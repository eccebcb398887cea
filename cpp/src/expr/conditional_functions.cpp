// fill_null and when/then/otherwise: values of several branches merged into one type (numbers
// into float64 if any is a float, null into anything). Arrow's coalesce and case_when do the
// row work; case_when already treats a null condition as false, as we want.
#include <arrow/array/array_nested.h>

#include "core/error.h"
#include "expr/function_registry.h"
#include "expr/kernel_support.h"
#include "expr/type_rules.h"

namespace millstream::expr {

namespace {

ResolvedCall ResolveFillNull(const CallSite& call) {
  call.ExpectArgCount(2);
  auto common = CommonType(call.arg(0).type, call.arg(1).type);
  if (!common) call.FailTypes("the fill value must have the type of the column (numbers mix)");
  ResolvedCall resolved;
  resolved.output_type = common;
  resolved.argument_types = {common, common};
  resolved.kernel = [common](const std::vector<arrow::Datum>& args, int64_t) -> arrow::Datum {
    if (common->id() == arrow::Type::NA) return arrow::MakeNullScalar(common);
    if (args[0].is_scalar()) return args[0].scalar()->is_valid ? args[0] : args[1];
    if (args[0].null_count() == 0) return args[0];
    return CallArrow("coalesce", args);
  };
  return resolved;
}

ResolvedCall ResolveWhen(const CallSite& call) {
  size_t arg_count = call.args().size();
  if (arg_count < 3 || arg_count % 2 == 0) {
    call.FailOption("'when' takes [condition, value, ..., otherwise], got " + std::to_string(arg_count) +
                    " arguments");
  }
  std::shared_ptr<arrow::DataType> common = arrow::null();
  for (size_t i = 0; i < arg_count; ++i) {
    bool is_condition = i % 2 == 0 && i + 1 < arg_count;
    const ArgumentInfo& arg = call.arg(i);
    if (is_condition) {
      TypeKind kind = KindOf(*arg.type);
      if (kind != TypeKind::kBool && kind != TypeKind::kNull) {
        throw UserTypeError("the condition " + arg.text + " of " + call.text() + " has type " +
                            TypeName(*arg.type) + "; a condition must be bool");
      }
      continue;
    }
    auto merged = CommonType(common, arg.type);
    if (!merged) {
      std::string values;
      for (size_t j = 0; j < arg_count; ++j) {
        if (j % 2 == 0 && j + 1 < arg_count) continue;  // a condition
        values += (values.empty() ? "" : ", ") + call.arg(j).text + " (" + TypeName(*call.arg(j).type) + ")";
      }
      throw UserTypeError("the values of " + call.text() + " have no common type: " + values);
    }
    common = merged;
  }
  ResolvedCall resolved;
  resolved.output_type = common;
  for (size_t i = 0; i < arg_count; ++i) {
    bool is_condition = i % 2 == 0 && i + 1 < arg_count;
    resolved.argument_types.push_back(is_condition ? arrow::boolean() : common);
  }
  resolved.kernel = [common](const std::vector<arrow::Datum>& args, int64_t num_rows) -> arrow::Datum {
    if (common->id() == arrow::Type::NA) return arrow::MakeNullScalar(common);
    arrow::ArrayVector conditions;
    std::vector<std::string> names;
    std::vector<arrow::Datum> call_args(1);
    for (size_t i = 0; i + 1 < args.size(); i += 2) {
      conditions.push_back(ToArray(args[i], num_rows));
      names.push_back("c" + std::to_string(i / 2));
      call_args.push_back(args[i + 1]);
    }
    call_args.push_back(args.back());
    call_args[0] = CheckArrow(arrow::StructArray::Make(conditions, names), "building when conditions");
    return CallArrow("case_when", call_args);
  };
  return resolved;
}

}  // namespace

void RegisterConditionalFunctions(FunctionRegistry& registry) {
  registry.Add("fill_null", "fill_null(a, b): b where a is null (NaN is not null); a and b share a "
               "type (numbers mix into float64).", ResolveFillNull);
  registry.Add("when", "when(c1, v1, c2, v2, ..., otherwise): the value of the first true condition "
               "(a null condition counts as false), else otherwise.", ResolveWhen);
}

}  // namespace millstream::expr
