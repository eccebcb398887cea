// The interval join (`a.join(b, on=..., within=..., how=...)`): rows of the left and right
// inputs with equal keys and right time - left time in [lower_ms, upper_ms] (inclusive), keyed
// and parallel like the other keyed operators. Semantics (DESIGN.md, issue 16):
//   - a pair is emitted as soon as its second row arrives, not at a watermark;
//   - a row of an outer side that found no partner is emitted once, with nulls for the other
//     side, when the watermark passes its bound: left time + upper_ms for a left row, right
//     time - lower_ms for a right row (after that no row that is not late can match it); a row
//     that matched is never emitted alone;
//   - a row's state is dropped at that same bound, so the live state is the rows within the
//     interval of the watermark, not the stream's length;
//   - a row behind the watermark when it arrives is late: counted in rows_late and sent to
//     port 1 (left rows) or 2 (right rows), as a window sends rows of closed windows to late();
//   - a null key (any key column null) never matches; a row of an outer side with one is
//     emitted alone at once;
//   - the output's watermark is the inputs' minus max(upper_ms, -lower_ms): the oldest time a
//     pair or an unmatched row still to come can carry, so windows can follow a join.
// Output columns: every left column, then every right column but the right keys when
// `merge_keys` (the key then appears once, coalesced: an unmatched right row has its key in the
// left key columns); a right name that clashes gets `suffix`. Every output column is nullable.
//
// Example:
//   IntervalJoinSpec spec;
//   spec.keys[0] = {0}; spec.keys[1] = {0}; spec.time_columns[0] = 1; spec.time_columns[1] = 1;
//   spec.lower_ms = -900000; spec.upper_ms = 900000; spec.outer[0] = spec.outer[1] = true;
//   auto join = MakeIntervalJoin(left_schema, right_schema, spec);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"
#include "ops/keyed_operator.h"

namespace millstream {

struct IntervalJoinSpec {
  std::vector<int> keys[2];          // key columns of the left (0) and right (1) input
  int time_columns[2] = {-1, -1};    // each input's event-time column
  int64_t lower_ms = 0, upper_ms = 0;
  bool outer[2] = {false, false};    // left join: outer[0]; right: outer[1]; outer: both
  bool merge_keys = false;
  std::string suffix = "_right";
  std::string name = "interval join";  // names the operator in errors and metrics
};

// Throws UserTypeError when the key columns' types differ between the inputs, a column cannot
// be buffered (nested types), or an output name clashes even with the suffix.
std::shared_ptr<KeyedOperator> MakeIntervalJoin(SchemaPtr left_schema, SchemaPtr right_schema,
                                                IntervalJoinSpec spec);

}  // namespace millstream
