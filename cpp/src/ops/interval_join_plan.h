// What an interval join's subtask states share (ops/interval_join.h): the spec resolved against
// the input schemas, built once per operator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/batch.h"
#include "ops/event_time.h"
#include "ops/interval_join.h"
#include "ops/keyed_operator.h"

namespace millstream {

struct IntervalJoinPlan {
  IntervalJoinSpec spec;
  SchemaPtr input_schemas[2];
  // A buffered row is its columns encoded with KeyEncoder in this order: the keys first (so a
  // row's bytes start with its key's, which an unmatched right row lends to the left key
  // columns when the keys are merged), then the other columns.
  std::vector<int> row_order[2];
  SchemaPtr key_schema;              // the key fields (the left's, nullable): the key table's
  std::unique_ptr<EventTime> event_times[2];
  SchemaPtr output_schema;
  // Per output column: (input, position in that input's row_order).
  std::vector<std::pair<int, int>> output_columns;
};

std::unique_ptr<KeyedOperatorState> MakeIntervalJoinState(const IntervalJoinPlan& plan,
                                                          SubtaskContext context);

}  // namespace millstream
