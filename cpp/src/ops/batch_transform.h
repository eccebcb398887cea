// A stateless operator: an immutable plan applied to one batch at a time. Chains of them between
// two exchanges run fused in the task that produced the batch.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"

namespace millstream {

class CompiledExpression;

class BatchTransform {
 public:
  virtual ~BatchTransform() = default;
  virtual SchemaPtr output_schema() const = 0;
  // May return nullptr or an empty batch when no row passes.
  virtual BatchPtr Apply(const BatchPtr& batch) const = 0;
  // Whether Apply returns every input row, in order (a projection): then the watermark marks
  // of a batch (core/watermark_marks.h) hold for its output unchanged.
  virtual bool keeps_rows() const { return false; }
};

// Rows where the predicate is true.
std::shared_ptr<BatchTransform> MakeFilter(std::shared_ptr<const CompiledExpression> predicate,
                                           SchemaPtr schema);

// One output column per expression, named after it (select / with_columns / drop / rename).
std::shared_ptr<BatchTransform> MakeProject(
    std::vector<std::shared_ptr<const CompiledExpression>> expressions);

// A user function over whole batches (map_batches: the Python escape hatch). `function` must
// return batches of `output_schema`; a mismatch is a UserError naming `name`.
using BatchFunction = std::function<BatchPtr(const BatchPtr&)>;
std::shared_ptr<BatchTransform> MakeMapBatches(std::string name, BatchFunction function,
                                               SchemaPtr output_schema);

}  // namespace millstream
