// Writes a plan back in the plan format, the shape plan_parser.h reads: ParsePlan(WritePlan(p))
// gives p again. The plan format's round-trip test compares this with what Python sent; it is
// also how a plan can be logged or stored.
#pragma once

#include <string>

#include "plan/plan.h"

namespace millstream {

std::string WritePlan(const Plan& plan);
// One node's object, as in the plan's "nodes".
std::string WriteNode(const PlanNode& node);

}  // namespace millstream
