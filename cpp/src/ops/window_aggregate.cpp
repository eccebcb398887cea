// The keyed aggregation operators as the runtime sees them: validation of the plan, output
// schemas, and a state per subtask (ops/slice_window_state.cpp, session_window_state.cpp,
// running_aggregate_state.cpp).
#include "ops/window_aggregate.h"

#include <chrono>
#include <mutex>
#include <set>

#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/compute/initialize.h>

#include "core/error.h"
#include "core/time_arithmetic.h"
#include "ops/aggregation_plan.h"

namespace millstream {

void EmitLateRows(const BatchPtr& batch, const std::vector<int64_t>& rows, Emitter& out,
                  OperatorMetrics* metrics, int port) {
  if (rows.empty()) return;
  if (metrics != nullptr) metrics->rows_late += static_cast<int64_t>(rows.size());
  if (static_cast<int64_t>(rows.size()) == batch->num_rows()) {
    out.Emit(port, batch);
    return;
  }
  arrow::Int64Builder indices;
  CheckArrow(indices.AppendValues(rows), "late rows");
  auto taken = CheckArrow(arrow::compute::Take(batch, CheckArrow(indices.Finish(), "late rows")),
                          "late rows");
  out.Emit(port, taken.record_batch());
}

std::vector<const arrow::Array*> AggregateInputs(const AggregationPlan& plan,
                                                 const arrow::RecordBatch& batch) {
  std::vector<const arrow::Array*> inputs;
  for (int column : plan.aggregate_inputs) {
    inputs.push_back(column < 0 ? nullptr : batch.column(column).get());
  }
  return inputs;
}

namespace {

void InitializeCompute() {
  static std::once_flag once;
  std::call_once(once, [] { CheckArrow(arrow::compute::Initialize(), "arrow compute"); });
}

// Fills the parts of the plan common to windows and running aggregates.
std::unique_ptr<AggregationPlan> MakePlan(std::string name, SchemaPtr input_schema,
                                          std::vector<int> key_columns,
                                          const std::vector<AggregateSpec>& aggregates) {
  InitializeCompute();
  MS_CHECK(input_schema != nullptr, "aggregation without an input schema");
  auto plan = std::make_unique<AggregationPlan>();
  plan->name = std::move(name);
  plan->input_schema = input_schema;
  std::set<int> seen;
  for (int column : key_columns) {
    if (column < 0 || column >= input_schema->num_fields()) {
      throw UserError(plan->name + ": key column index " + std::to_string(column) +
                      " is outside the input schema (" +
                      std::to_string(input_schema->num_fields()) + " columns)");
    }
    if (!seen.insert(column).second) {
      throw UserError(plan->name + ": key column '" + input_schema->field(column)->name() +
                      "' is given twice");
    }
  }
  plan->key_columns = std::move(key_columns);
  if (aggregates.empty()) throw UserError(plan->name + ": no aggregates given");
  std::vector<std::unique_ptr<AggregateFunction>> functions;
  for (const AggregateSpec& spec : aggregates) {
    if (spec.output_name.empty()) {
      throw UserError(plan->name + ": an aggregate (" + spec.kind + ") has no output name");
    }
    functions.push_back(MakeAggregateFunction(spec, *input_schema, plan->name));
    plan->aggregate_inputs.push_back(spec.input_column);
  }
  plan->layout = std::make_unique<AccumulatorLayout>(std::move(functions));
  return plan;
}

void SetOutputSchema(AggregationPlan* plan, const std::vector<AggregateSpec>& aggregates,
                     bool with_is_update) {
  arrow::FieldVector fields;
  for (int column : plan->key_columns) fields.push_back(plan->input_schema->field(column));
  if (plan->windowed) {
    fields.push_back(arrow::field("window_start", plan->event_time->type(), false));
    fields.push_back(arrow::field("window_end", plan->event_time->type(), false));
  }
  for (size_t i = 0; i < aggregates.size(); ++i) {
    fields.push_back(arrow::field(aggregates[i].output_name,
                                  plan->layout->function(i).output_type()));
  }
  if (with_is_update) fields.push_back(arrow::field("is_update", arrow::boolean(), false));
  std::set<std::string> names;
  for (const auto& field : fields) {
    if (!names.insert(field->name()).second) {
      throw UserError(plan->name + ": output column '" + field->name() +
                      "' appears twice (a key, window_start/window_end, an aggregate or "
                      "is_update); rename the aggregate");
    }
  }
  plan->output_schema = arrow::schema(fields);
}

class AggregationOperator final : public KeyedOperator {
 public:
  explicit AggregationOperator(std::unique_ptr<AggregationPlan> plan) : plan_(std::move(plan)) {}
  std::string name() const override { return plan_->name; }
  SchemaPtr output_schema(int port) const override {
    MS_CHECK(port >= 0 && port < num_ports(), "no such output port");
    return port == 0 ? plan_->output_schema : plan_->input_schema;
  }
  int num_ports() const override { return plan_->windowed ? 2 : 1; }
  const std::vector<int>& key_columns() const override { return plan_->key_columns; }
  std::unique_ptr<KeyedOperatorState> CreateState(SubtaskContext context) const override {
    MS_CHECK(context.state != nullptr, "a keyed aggregation needs a state backend");
    if (!plan_->windowed) return MakeRunningAggregateState(*plan_, std::move(context));
    if (plan_->window.kind == WindowSpec::Kind::kSession) {
      return MakeSessionWindowState(*plan_, std::move(context));
    }
    return MakeSliceWindowState(*plan_, std::move(context));
  }

 private:
  std::unique_ptr<AggregationPlan> plan_;
};

const char* KindName(WindowSpec::Kind kind) {
  switch (kind) {
    case WindowSpec::Kind::kTumbling: return "tumbling";
    case WindowSpec::Kind::kSliding: return "sliding";
    case WindowSpec::Kind::kSession: return "session";
  }
  return "?";
}

}  // namespace

std::shared_ptr<KeyedOperator> MakeWindowAggregateWithClock(
    SchemaPtr input_schema, std::vector<int> key_columns, int time_column, WindowSpec window,
    int64_t allowed_lateness_ms, std::vector<AggregateSpec> aggregates,
    std::function<int64_t()> clock_ms) {
  std::string name = std::string("window aggregation (") + KindName(window.kind) + ")";
  auto plan = MakePlan(name, input_schema, std::move(key_columns), aggregates);
  plan->windowed = true;
  plan->window = window;
  if (allowed_lateness_ms < 0) {
    throw UserError(name + ": allowed lateness must not be negative, got " +
                    std::to_string(allowed_lateness_ms) + " ms");
  }
  if (window.processing_time) {
    // Processing time has no late rows: a row belongs to the window open when it arrives.
    allowed_lateness_ms = 0;
    time_column = -1;
  } else if (time_column < 0) {
    throw UserError(name + ": event-time windows need a time column");
  }
  CheckDuration(allowed_lateness_ms, name, "allowed lateness");
  CheckDuration(window.size_ms, name, "window size");
  CheckDuration(window.slide_ms, name, "window slide");
  CheckDuration(window.offset_ms, name, "window offset");
  CheckDuration(window.gap_ms, name, "session gap");
  plan->allowed_lateness_ms = allowed_lateness_ms;
  plan->event_time = std::make_unique<EventTime>(*input_schema, time_column, name);
  if (window.kind == WindowSpec::Kind::kSession) {
    if (window.gap_ms <= 0) {
      throw UserError(name + ": session gap must be positive, got " +
                      std::to_string(window.gap_ms) + " ms");
    }
  } else {
    plan->slices.emplace(window, name);
  }
  plan->clock_ms = std::move(clock_ms);
  SetOutputSchema(plan.get(), aggregates, allowed_lateness_ms > 0);
  return std::make_shared<AggregationOperator>(std::move(plan));
}

std::shared_ptr<KeyedOperator> MakeWindowAggregate(SchemaPtr input_schema,
                                                   std::vector<int> key_columns, int time_column,
                                                   WindowSpec window, int64_t allowed_lateness_ms,
                                                   std::vector<AggregateSpec> aggregates) {
  return MakeWindowAggregateWithClock(
      std::move(input_schema), std::move(key_columns), time_column, window, allowed_lateness_ms,
      std::move(aggregates), [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      });
}

std::shared_ptr<KeyedOperator> MakeRunningAggregate(SchemaPtr input_schema,
                                                    std::vector<int> key_columns,
                                                    std::vector<AggregateSpec> aggregates) {
  auto plan = MakePlan("running aggregation", input_schema, std::move(key_columns), aggregates);
  SetOutputSchema(plan.get(), aggregates, false);
  return std::make_shared<AggregationOperator>(std::move(plan));
}

}  // namespace millstream
