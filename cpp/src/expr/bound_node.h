// A compiled expression is a tree of bound nodes: names resolved to column positions, types
// checked, kernels chosen. Nodes are immutable after compilation and evaluated from many threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <arrow/datum.h>
#include <arrow/record_batch.h>

#include "expr/function_registry.h"
#include "expr/row_selection.h"

namespace millstream::expr {

class BoundNode {
 public:
  explicit BoundNode(std::shared_ptr<arrow::DataType> type) : type_(std::move(type)) {}
  virtual ~BoundNode() = default;

  const std::shared_ptr<arrow::DataType>& type() const { return type_; }

  // An Array of batch.num_rows() values, or a Scalar when the value is the same for every row.
  virtual arrow::Datum Evaluate(const arrow::RecordBatch& batch) const = 0;

  // For a bool node: the rows where it is true. The default evaluates the column and reads it;
  // calls with a fused select kernel (column-vs-constant comparisons) skip the bool column.
  virtual RowSelection Select(const arrow::RecordBatch& batch) const;

  // The constant, if this node is one.
  virtual const arrow::Scalar* literal() const { return nullptr; }

 private:
  std::shared_ptr<arrow::DataType> type_;
};

class ColumnNode final : public BoundNode {
 public:
  ColumnNode(int index, std::string name, std::shared_ptr<arrow::DataType> type)
      : BoundNode(std::move(type)), index_(index), name_(std::move(name)) {}
  arrow::Datum Evaluate(const arrow::RecordBatch& batch) const override;

 private:
  int index_;
  std::string name_;
};

class LiteralNode final : public BoundNode {
 public:
  explicit LiteralNode(std::shared_ptr<arrow::Scalar> value)
      : BoundNode(value->type), value_(std::move(value)) {}
  arrow::Datum Evaluate(const arrow::RecordBatch&) const override { return value_; }
  const arrow::Scalar* literal() const override { return value_.get(); }

 private:
  std::shared_ptr<arrow::Scalar> value_;
};

class CallNode final : public BoundNode {
 public:
  CallNode(std::string function, std::vector<std::shared_ptr<const BoundNode>> args,
           std::shared_ptr<arrow::DataType> type, Kernel kernel, SelectKernel select)
      : BoundNode(std::move(type)), function_(std::move(function)), args_(std::move(args)),
        kernel_(std::move(kernel)), select_(std::move(select)) {}

  arrow::Datum Evaluate(const arrow::RecordBatch& batch) const override;
  RowSelection Select(const arrow::RecordBatch& batch) const override;

  // Runs the kernel over values (Arrays of num_rows or Scalars); only constants: one-row arrays.
  arrow::Datum Apply(const std::vector<arrow::Datum>& values, int64_t num_rows) const;

 private:
  std::vector<arrow::Datum> EvaluateArgs(const arrow::RecordBatch& batch) const;

  std::string function_;
  std::vector<std::shared_ptr<const BoundNode>> args_;
  Kernel kernel_;
  SelectKernel select_;
};

}  // namespace millstream::expr
