// A stateless operator: an immutable plan applied to one batch at a time. Chains of them between
// two exchanges run fused in the task that produced the batch.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"
#include "core/watermark_marks.h"

namespace millstream {

class CompiledExpression;

class BatchTransform {
 public:
  virtual ~BatchTransform() = default;
  virtual SchemaPtr output_schema() const = 0;
  // May return nullptr or an empty batch when no row passes.
  virtual BatchPtr Apply(const BatchPtr& batch) const = 0;
  // Apply to a batch with watermark marks (core/watermark_marks.h), setting `*output_marks` to
  // them renumbered in the output's rows; false if the transform cannot tell which rows it kept
  // (map_batches): the caller then cuts the batch at its marks.
  virtual bool ApplyMarked(const BatchPtr& batch, const WatermarkMarks& marks, BatchPtr* output,
                           WatermarkMarks* output_marks) const {
    (void)batch, (void)marks, (void)output, (void)output_marks;
    return false;
  }
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
