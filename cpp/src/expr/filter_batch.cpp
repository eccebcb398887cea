// FilterBatch: the predicate's rows (a fused compare-and-select for column-vs-constant
// comparisons, else the bool column read into row numbers), then one gather per column.
#include "core/error.h"
#include "expr/bound_node.h"
#include "expr/expression.h"
#include "expr/row_selection.h"
#include "expr/type_rules.h"

namespace millstream {

BatchPtr FilterBatch(const BatchPtr& batch, const CompiledExpression& predicate) {
  arrow::Type::type id = predicate.type()->id();
  if (id != arrow::Type::BOOL && id != arrow::Type::NA) {
    throw UserTypeError("filter predicate " + predicate.text() + " has type " +
                        expr::TypeName(*predicate.type()) + "; a filter needs a bool expression");
  }
  return expr::TakeSelectedRows(batch, predicate.root().Select(*batch));
}

}  // namespace millstream
