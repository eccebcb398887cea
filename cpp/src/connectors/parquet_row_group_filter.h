// Predicate pushdown into Parquet: which row groups a filter rules out from their column
// statistics (min, max, null count), so that the source skips them unread. Understood: the
// comparisons eq, ne, lt, le, gt, ge of a column with a literal (either side), is_null,
// is_not_null, and `and` / `or` of those; anything else counts as "may match". A group is ruled
// out only when no row of it can make the predicate true: the filter after the source still
// judges every row read, so results never depend on what was skipped.
//
//   ParquetRowGroupFilter filter(R"({"fn": "gt", "args": [{"col": "x"}, {"lit": 5, ...}]})",
//                                *schema, leaves_of_field);
//   if (!filter.MayMatch(*metadata->RowGroup(g))) skip(g);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <arrow/type.h>
#include <parquet/metadata.h>

namespace millstream {

class ParquetRowGroupFilter {
 public:
  // `predicate_json`: an expression (expr/expression_parser.cpp) over `schema`, the Arrow
  // schema of the file; `leaves_of_field`: per field of it, its Parquet leaf columns. Throws
  // UserError when the JSON is malformed.
  ParquetRowGroupFilter(const std::string& predicate_json, const arrow::Schema& schema,
                        const std::vector<std::vector<int>>& leaves_of_field);
  ~ParquetRowGroupFilter();

  // False when the group's statistics show that no row of it makes the predicate true.
  bool MayMatch(const parquet::RowGroupMetaData& group) const;
  // The leaf columns the predicate reads (to read them before the others).
  const std::vector<int>& leaves() const { return leaves_; }

  struct Term;

 private:
  std::unique_ptr<Term> root_;
  std::vector<int> leaves_;
};

}  // namespace millstream
