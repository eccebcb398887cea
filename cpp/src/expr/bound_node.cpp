#include "expr/bound_node.h"

#include "core/error.h"
#include "expr/kernel_support.h"
#include "expr/type_rules.h"

namespace millstream::expr {

RowSelection BoundNode::Select(const arrow::RecordBatch& batch) const {
  arrow::Datum mask = Evaluate(batch);
  if (mask.is_scalar()) {
    const arrow::Scalar& scalar = *mask.scalar();
    bool keep = scalar.is_valid && scalar.type->id() == arrow::Type::BOOL &&
                static_cast<const arrow::BooleanScalar&>(scalar).value;
    return RowSelection{nullptr, keep ? batch.num_rows() : 0, nullptr};
  }
  return SelectionFromMask(*mask.make_array());
}

arrow::Datum ColumnNode::Evaluate(const arrow::RecordBatch& batch) const {
  // A batch of another schema than the one compiled against is a bug of the caller.
  MS_CHECK(index_ < batch.num_columns() && batch.schema()->field(index_)->name() == name_ &&
               batch.column_data(index_)->type->Equals(*type()),
           "expression compiled for column '" + name_ + "' (" + TypeName(*type()) +
               ") evaluated over a batch with schema " + batch.schema()->ToString());
  return batch.column_data(index_);
}

std::vector<arrow::Datum> CallNode::EvaluateArgs(const arrow::RecordBatch& batch) const {
  std::vector<arrow::Datum> values;
  values.reserve(args_.size());
  for (const auto& arg : args_) values.push_back(arg->Evaluate(batch));
  return values;
}

arrow::Datum CallNode::Apply(const std::vector<arrow::Datum>& values, int64_t num_rows) const {
  bool any_array = false;
  for (const auto& value : values) any_array = any_array || value.is_array();
  if (any_array) {
    arrow::Datum result = kernel_(values, num_rows);
    MS_CHECK(result.is_scalar() || result.length() == num_rows,
             "'" + function_ + "' returned " + std::to_string(result.length()) + " rows for " +
                 std::to_string(num_rows));
    MS_CHECK(result.type()->Equals(*type()), "'" + function_ + "' returned " +
                                                 result.type()->ToString() + ", resolved " +
                                                 type()->ToString());
    return result;
  }
  // Constants only: kernels are written for arrays, so run them over one row.
  std::vector<arrow::Datum> rows;
  rows.reserve(values.size());
  for (const auto& value : values) rows.emplace_back(ToArray(value, 1));
  arrow::Datum result = kernel_(rows, 1);
  if (result.is_scalar()) return result;
  return CheckArrow(result.make_array()->GetScalar(0), "reading a folded constant");
}

arrow::Datum CallNode::Evaluate(const arrow::RecordBatch& batch) const {
  return Apply(EvaluateArgs(batch), batch.num_rows());
}

RowSelection CallNode::Select(const arrow::RecordBatch& batch) const {
  if (!select_) return BoundNode::Select(batch);
  std::vector<arrow::Datum> values = EvaluateArgs(batch);
  bool any_array = false;
  for (const auto& value : values) any_array = any_array || value.is_array();
  if (!any_array) return BoundNode::Select(batch);
  return select_(values, batch.num_rows());
}

}  // namespace millstream::expr
