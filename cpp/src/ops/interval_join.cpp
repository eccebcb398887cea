// The interval join operator: the const part (schemas, key types, output columns). The state of
// a subtask is in interval_join_state.cpp.
#include "ops/interval_join.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/key_encoding.h"
#include "core/time_arithmetic.h"
#include "ops/interval_join_plan.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

const char* SideName(int side) { return side == 0 ? "left" : "right"; }

class IntervalJoin final : public KeyedOperator {
 public:
  IntervalJoin(SchemaPtr left_schema, SchemaPtr right_schema, IntervalJoinSpec spec) {
    plan_.spec = std::move(spec);
    plan_.input_schemas[0] = std::move(left_schema);
    plan_.input_schemas[1] = std::move(right_schema);
    const IntervalJoinSpec& s = plan_.spec;
    MS_CHECK(!s.keys[0].empty() && s.keys[0].size() == s.keys[1].size(),
             "an interval join needs as many keys on each side (the plan parser checks it)");
    MS_CHECK(s.lower_ms <= s.upper_ms, "interval join bounds out of order");
    CheckDuration(std::max(s.upper_ms, -s.lower_ms), s.name, "within");
    arrow::FieldVector key_fields;
    for (size_t k = 0; k < s.keys[0].size(); ++k) {
      const auto& left = plan_.input_schemas[0]->field(s.keys[0][k]);
      const auto& right = plan_.input_schemas[1]->field(s.keys[1][k]);
      if (!left->type()->Equals(*right->type())) {
        throw UserTypeError(s.name + ": the key '" + left->name() + "' is " + left->type()->ToString() +
                            " on the left and '" + right->name() + "' is " +
                            right->type()->ToString() + " on the right; keys must have one type: "
                            "cast one side first (with_columns(" + right->name() + "=col('" +
                            right->name() + "').cast(...)))");
      }
      key_fields.push_back(left->WithNullable(true));
    }
    plan_.key_schema = arrow::schema(std::move(key_fields));
    for (int side = 0; side < 2; ++side) {
      const arrow::Schema& schema = *plan_.input_schemas[side];
      // Rows are buffered as encoded keys: every column must be one a key can be.
      for (const auto& field : schema.fields()) {
        try {
          KeyKindOf(*field);
        } catch (const UserError& error) {
          throw UserTypeError(s.name + ": the " + SideName(side) + " column '" + field->name() +
                              "' is " + field->type()->ToString() + ", which a join cannot buffer "
                              "(flat columns only): drop it before the join or join on a "
                              "projection");
        }
      }
      plan_.row_order[side] = s.keys[side];
      for (int column = 0; column < schema.num_fields(); ++column) {
        if (std::find(s.keys[side].begin(), s.keys[side].end(), column) == s.keys[side].end()) {
          plan_.row_order[side].push_back(column);
        }
      }
      plan_.event_times[side] =
          std::make_unique<EventTime>(schema, s.time_columns[side], s.name + " (" + SideName(side) + ")");
    }
    BuildOutput();
  }

  std::string name() const override { return plan_.spec.name; }
  // Port 0: the joined rows; 1 and 2: the late rows of the left and the right input.
  int num_ports() const override { return 3; }
  SchemaPtr output_schema(int port) const override {
    MS_CHECK(port >= 0 && port <= 2, "an interval join has three outputs");
    return port == 0 ? plan_.output_schema : plan_.input_schemas[port - 1];
  }
  const std::vector<int>& key_columns() const override { return plan_.spec.keys[0]; }
  int num_inputs() const override { return 2; }
  const std::vector<int>& input_key_columns(int input) const override {
    MS_CHECK(input == 0 || input == 1, "an interval join has two inputs");
    return plan_.spec.keys[input];
  }
  int64_t OutputWatermark(int64_t input_watermark_ms) const override {
    if (input_watermark_ms == kFinalWatermarkMs || input_watermark_ms == kMinWatermarkMs) {
      return input_watermark_ms;
    }
    return SaturatingSubtract(input_watermark_ms,
                              std::max(plan_.spec.upper_ms, -plan_.spec.lower_ms));
  }
  std::unique_ptr<KeyedOperatorState> CreateState(SubtaskContext context) const override {
    return MakeIntervalJoinState(plan_, std::move(context));
  }

 private:
  int PositionInRow(int side, int column) const {
    const auto& order = plan_.row_order[side];
    return static_cast<int>(std::find(order.begin(), order.end(), column) - order.begin());
  }

  void BuildOutput() {
    const IntervalJoinSpec& s = plan_.spec;
    arrow::FieldVector fields;
    std::set<std::string> names;
    const arrow::Schema& left = *plan_.input_schemas[0];
    for (int column = 0; column < left.num_fields(); ++column) {
      fields.push_back(left.field(column)->WithNullable(true));
      names.insert(left.field(column)->name());
      plan_.output_columns.emplace_back(0, PositionInRow(0, column));
    }
    const arrow::Schema& right = *plan_.input_schemas[1];
    for (int column = 0; column < right.num_fields(); ++column) {
      const bool is_key =
          std::find(s.keys[1].begin(), s.keys[1].end(), column) != s.keys[1].end();
      if (is_key && s.merge_keys) continue;
      std::string name = right.field(column)->name();
      if (names.count(name) != 0) name += s.suffix;
      if (!names.insert(name).second) {
        throw UserError(s.name + ": the right column '" + right.field(column)->name() +
                        "' clashes with a left column, and so does '" + name +
                        "' with the suffix: rename one of them, or pass another suffix=");
      }
      fields.push_back(right.field(column)->WithName(name)->WithNullable(true));
      plan_.output_columns.emplace_back(1, PositionInRow(1, column));
    }
    plan_.output_schema = arrow::schema(std::move(fields));
  }

  IntervalJoinPlan plan_;
};

}  // namespace

std::shared_ptr<KeyedOperator> MakeIntervalJoin(SchemaPtr left_schema, SchemaPtr right_schema,
                                                IntervalJoinSpec spec) {
  return std::make_shared<IntervalJoin>(std::move(left_schema), std::move(right_schema),
                                        std::move(spec));
}

}  // namespace millstream
