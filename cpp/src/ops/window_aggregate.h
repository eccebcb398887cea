// Factories of the keyed aggregation operators (declared by the runtime engineer so the plan can
// call them; implemented by the windows work in ops/*.cpp). Semantics: DESIGN.md and the brief.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"
#include "ops/keyed_operator.h"

namespace millstream {

struct AggregateSpec {
  std::string kind;       // count sum min max mean first last count_distinct stddev var collect_list
  int input_column = -1;  // -1: count rows
  std::string output_name;
};

struct WindowSpec {
  enum class Kind { kTumbling, kSliding, kSession } kind = Kind::kTumbling;
  int64_t size_ms = 0, slide_ms = 0, offset_ms = 0, gap_ms = 0;
  bool processing_time = false;
};

std::shared_ptr<KeyedOperator> MakeWindowAggregate(SchemaPtr input_schema,
                                                   std::vector<int> key_columns, int time_column,
                                                   WindowSpec window, int64_t allowed_lateness_ms,
                                                   std::vector<AggregateSpec> aggregates);

std::shared_ptr<KeyedOperator> MakeRunningAggregate(SchemaPtr input_schema,
                                                    std::vector<int> key_columns,
                                                    std::vector<AggregateSpec> aggregates);

}  // namespace millstream
