#include <arrow/array.h>

#include "core/error.h"
#include "expr/expression.h"
#include "ops/batch_transform.h"

namespace millstream {

namespace {

class Filter final : public BatchTransform {
 public:
  Filter(std::shared_ptr<const CompiledExpression> predicate, SchemaPtr schema)
      : predicate_(std::move(predicate)), schema_(std::move(schema)) {}
  SchemaPtr output_schema() const override { return schema_; }
  BatchPtr Apply(const BatchPtr& batch) const override { return FilterBatch(batch, *predicate_); }
  bool ApplyMarked(const BatchPtr& batch, const WatermarkMarks& marks, BatchPtr* output,
                   WatermarkMarks* output_marks) const override {
    *output = FilterBatch(batch, *predicate_, marks, output_marks);
    return true;
  }

 private:
  std::shared_ptr<const CompiledExpression> predicate_;
  SchemaPtr schema_;
};

class Project final : public BatchTransform {
 public:
  explicit Project(std::vector<std::shared_ptr<const CompiledExpression>> expressions)
      : expressions_(std::move(expressions)) {
    arrow::FieldVector fields;
    for (const auto& expression : expressions_) {
      fields.push_back(arrow::field(expression->name(), expression->type()));
    }
    schema_ = arrow::schema(std::move(fields));
  }
  SchemaPtr output_schema() const override { return schema_; }
  bool ApplyMarked(const BatchPtr& batch, const WatermarkMarks& marks, BatchPtr* output,
                   WatermarkMarks* output_marks) const override {
    *output = Apply(batch);  // every row, in order
    *output_marks = marks;
    return true;
  }
  BatchPtr Apply(const BatchPtr& batch) const override {
    arrow::ArrayVector columns;
    columns.reserve(expressions_.size());
    for (const auto& expression : expressions_) columns.push_back(expression->Evaluate(*batch));
    return arrow::RecordBatch::Make(schema_, batch->num_rows(), std::move(columns));
  }

 private:
  std::vector<std::shared_ptr<const CompiledExpression>> expressions_;
  SchemaPtr schema_;
};

class MapBatches final : public BatchTransform {
 public:
  MapBatches(std::string name, BatchFunction function, SchemaPtr schema)
      : name_(std::move(name)), function_(std::move(function)), schema_(std::move(schema)) {}
  SchemaPtr output_schema() const override { return schema_; }
  BatchPtr Apply(const BatchPtr& batch) const override {
    BatchPtr result = function_(batch);
    if (!result) return nullptr;
    if (!result->schema()->Equals(*schema_, /*check_metadata=*/false)) {
      throw UserError(name_ + ": the function returned a batch with schema {" +
                      result->schema()->ToString() + "} but the declared schema is {" +
                      schema_->ToString() + "}; pass schema= to map_batches to declare it");
    }
    return result;
  }

 private:
  std::string name_;
  BatchFunction function_;
  SchemaPtr schema_;
};

}  // namespace

std::shared_ptr<BatchTransform> MakeFilter(std::shared_ptr<const CompiledExpression> predicate,
                                           SchemaPtr schema) {
  return std::make_shared<Filter>(std::move(predicate), std::move(schema));
}

std::shared_ptr<BatchTransform> MakeProject(
    std::vector<std::shared_ptr<const CompiledExpression>> expressions) {
  return std::make_shared<Project>(std::move(expressions));
}

std::shared_ptr<BatchTransform> MakeMapBatches(std::string name, BatchFunction function,
                                               SchemaPtr output_schema) {
  return std::make_shared<MapBatches>(std::move(name), std::move(function),
                                      std::move(output_schema));
}

}  // namespace millstream
