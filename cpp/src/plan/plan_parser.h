// Reads the plan format (python/millstream/_plan.py documents it) strictly: an unknown
// operator or field, a field of the wrong type, a missing field and a plan of another format
// version are each a PlanError that names the node (id, op, label) and the field. Nothing is
// defaulted: what Python did not send is an error, not a zero.
#pragma once

#include <string_view>

#include "plan/plan.h"

namespace millstream {

// {"version": 1, "parallelism": ..., "max_parallelism": ..., "state": {...}, "nodes": [...]}.
// Also checks the graph: ids unique, inputs earlier in the list, as many inputs as the
// operator takes.
Plan ParsePlan(std::string_view plan_json);

// {"version": 1, "node": {...}}: one node, to resolve its output schemas while Python builds
// the pipeline.
PlanNode ParseNodeDocument(std::string_view document_json);

}  // namespace millstream
