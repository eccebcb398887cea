// Vectorised column expressions: the Python side sends an expression as JSON text
// ({"col": ..}, {"lit": .., "type": ..}, {"alias": .., "expr": ..}, {"fn": .., "args": [..], options..});
// CompileExpression resolves names and types against a schema once, before any data is read,
// and the result evaluates whole record batches with typed kernels (hand-written where Arrow's
// are slow or mean something else, Arrow's otherwise).
//
//   auto price_eur = CompileExpression(R"({"fn":"mul","args":[{"col":"price"},{"lit":0.908,"type":"float64"}]})",
//                                      *batch->schema());
//   std::shared_ptr<arrow::Array> column = price_eur->Evaluate(*batch);   // float64, named "price"
//
// Type rules (see docs in the function files under cpp/src/expr/):
// - integers of any width compute as int64; a result beyond int64 is a UserError naming the
//   expression and the row (DuckDB's rule, expr/integer_overflow.h), never a wrapped value;
//   a uint64 column is a type error in any call but cast (RejectUint64Computation); any float makes float64 (an int compared with or added to
//   a float is converted, exact up to 2^53); bool is not a number; truediv always gives float64.
// - strings: string, large_string and string_view (read as string); dictionary-encoded columns
//   are not supported (cast them first, outside the expression).
// - floordiv and mod follow Python (floor); an integer divisor of 0 gives null, floats follow IEEE.
// - comparisons between numbers of any types are fine; string vs number is a type error; nulls propagate.
// - and / or / not use three-valued (Kleene) logic.
// - timestamp + int64, int64 + timestamp, timestamp - int64: the integer counts MILLISECONDS
//   (the engine's unit for durations), the result keeps the timestamp's type; timestamp - timestamp
//   is rejected (use dt.epoch on both).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

#include "core/batch.h"
#include "core/watermark_marks.h"

namespace millstream {

namespace expr {
class BoundNode;
}

// An expression bound to one input schema: immutable and shareable across threads.
class CompiledExpression {
 public:
  CompiledExpression(std::shared_ptr<const expr::BoundNode> root, std::string name,
                     std::string text, std::shared_ptr<arrow::Schema> input_schema);

  // Output column name: the alias, else the column's name, else the name of the first column
  // argument (depth first; for `when`, the first column among the `then` values, then
  // `otherwise`, then the conditions), else "literal".
  const std::string& name() const { return name_; }
  const std::shared_ptr<arrow::DataType>& type() const;
  // Human form of the expression, e.g. (col("a") + lit(1)), for messages.
  const std::string& text() const { return text_; }
  // The schema the expression was compiled against; Evaluate expects batches of this schema.
  const std::shared_ptr<arrow::Schema>& input_schema() const { return input_schema_; }

  // Evaluates over a batch; the result has batch.num_rows() rows (a literal is broadcast).
  // Throws UserError for a value that cannot be converted (e.g. cast("abc" -> int64)).
  std::shared_ptr<arrow::Array> Evaluate(const arrow::RecordBatch& batch) const;

  const expr::BoundNode& root() const { return *root_; }

 private:
  std::shared_ptr<const expr::BoundNode> root_;
  std::string name_;
  std::string text_;
  std::shared_ptr<arrow::Schema> input_schema_;
};

// Throws UserError("unknown column 'x' in expression (col(\"x\") + lit(1)); columns: a, b, c") for
// an unknown column, UserTypeError for a type mismatch naming the argument(s) and their types, e.g.
// "cannot apply '+' to col(\"name\") (string) and lit(1) (int64)", and UserError for malformed JSON
// or bad options.
std::shared_ptr<const CompiledExpression> CompileExpression(std::string_view expression_json,
                                                            const arrow::Schema& input_schema);

// As CompileExpression, and also throws UserTypeError unless the expression is a bool (or an
// untyped null) predicate.
std::shared_ptr<const CompiledExpression> CompilePredicate(std::string_view expression_json,
                                                           const arrow::Schema& input_schema);

// Human form used in messages, e.g. (col("a") + lit(1)). Throws UserError for malformed JSON.
std::string ExpressionToString(std::string_view expression_json);

// Rows where the predicate is true (null and false dropped). Returns `batch` itself when every
// row passes. Throws UserTypeError if the predicate is not bool.
BatchPtr FilterBatch(const BatchPtr& batch, const CompiledExpression& predicate);
// The same for a batch with watermark marks: `*kept_marks` gets them renumbered in the rows kept.
BatchPtr FilterBatch(const BatchPtr& batch, const CompiledExpression& predicate,
                     const WatermarkMarks& marks, WatermarkMarks* kept_marks);

}  // namespace millstream
