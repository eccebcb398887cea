// FilterBatch: the predicate's rows (a fused compare-and-select for column-vs-constant
// comparisons, else the bool column read into row numbers), then one gather per column.
#include "core/error.h"
#include "expr/bound_node.h"
#include "expr/expression.h"
#include "expr/row_selection.h"
#include "expr/type_rules.h"

namespace millstream {

namespace {

void CheckPredicate(const CompiledExpression& predicate) {
  arrow::Type::type id = predicate.type()->id();
  if (id != arrow::Type::BOOL && id != arrow::Type::NA) {
    throw UserTypeError("filter predicate " + predicate.text() + " has type " +
                        expr::TypeName(*predicate.type()) + "; a filter needs a bool expression");
  }
}

}  // namespace

BatchPtr FilterBatch(const BatchPtr& batch, const CompiledExpression& predicate) {
  CheckPredicate(predicate);
  return expr::TakeSelectedRows(batch, predicate.root().Select(*batch));
}

BatchPtr FilterBatch(const BatchPtr& batch, const CompiledExpression& predicate,
                     const WatermarkMarks& marks, WatermarkMarks* kept_marks) {
  CheckPredicate(predicate);
  expr::RowSelection selection = predicate.root().Select(*batch);
  if (selection.count == batch->num_rows()) {
    *kept_marks = marks;
  } else if (selection.count == 0) {
    kept_marks->clear();
  } else {
    *kept_marks = SelectMarks(marks, selection.data(), selection.count);
  }
  return expr::TakeSelectedRows(batch, selection);
}

}  // namespace millstream
