// Turns a plan node into its physical operator, resolving types: the same code validates the
// pipeline while Python builds it (errors before any data is read) and builds the run.
#pragma once

#include <memory>
#include <vector>

#include "ops/batch_transform.h"
#include "plan/plan.h"
#include "ops/keyed_operator.h"

namespace millstream {

struct WatermarkAssignment {
  int time_column = -1;
  int64_t units_per_ms = 1;      // TimestampUnitsPerMs of the column (1 for int64 epoch ms)
  int64_t max_delay_ms = 0;
  int64_t idle_timeout_ms = -1;
  // >= 0: the watermarks are given in this int64 column (ExplicitWatermarkNode), which the
  // chain drops; max_delay_ms and idle_timeout_ms are then unused.
  int watermark_column = -1;
};

struct PhysicalOperator {
  enum class Kind { kSource, kTransform, kWatermark, kUnion, kKeyed, kPort, kSink } kind;
  std::shared_ptr<Source> source;                 // kSource
  std::shared_ptr<BatchTransform> transform;      // kTransform
  WatermarkAssignment watermark;                  // kWatermark
  std::shared_ptr<KeyedOperator> keyed;           // kKeyed
  // kKeyed: the input columns the exchange sends to the operator, which was built on just
  // those (PruneKeyedInput); empty: all of them.
  std::vector<int> input_columns;
  std::vector<SchemaPtr> output_schemas;          // per port
};

PhysicalOperator BuildOperator(const PlanNode& node, const std::vector<SchemaPtr>& input_schemas,
                               const PlanHandles& handles);

// Output schemas (per port) of one node, given its inputs' schemas: what Python shows while a
// pipeline is built (the bindings' resolve); throws the same errors a run would.
std::vector<SchemaPtr> ResolveNodeSchemas(const PlanNode& node,
                                          const std::vector<SchemaPtr>& input_schemas,
                                          const PlanHandles& handles);

// Builds a keyed operator (window, running_agg) on only the input columns it reads, so the
// exchange gathers and sends no others: its keys, its time column and its aggregations'
// columns. Returns false, leaving `op` alone, when it reads every column or none, and for a
// join (whose output is every column of its inputs). Only for an
// operator whose late rows nobody consumes: late rows keep every input column.
bool PruneKeyedInput(const PlanNode& node, const SchemaPtr& input_schema,
                     const PlanHandles& handles, PhysicalOperator* op);

// Rows of one batch's time column in epoch milliseconds (floor), for watermarks and windows.
void TimeColumnToMs(const arrow::Array& column, int64_t units_per_ms, std::vector<int64_t>* out_ms);

}  // namespace millstream
