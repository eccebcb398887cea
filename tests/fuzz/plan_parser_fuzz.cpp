// The plan parser (plan/plan_parser) on any text: a PlanError (a UserError) or a plan that
// the writer prints back into text the parser reads to the same plan.
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz_driver.h"
#include "plan/plan_parser.h"
#include "plan/plan_writer.h"

const char* const kFuzzTargetName = "plan_parser";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const millstream::Plan plan = millstream::ParsePlan(text);
  const std::string written = millstream::WritePlan(plan);
  const std::string again = millstream::WritePlan(millstream::ParsePlan(written));
  if (again != written) {
    throw std::runtime_error("the plan written back reads differently:\n" + written + "\n" + again);
  }
  return 0;
}
