// PruneKeyedInput: a keyed operator is built on only the columns it reads.
#include "plan/physical.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

namespace millstream {
namespace {

SchemaPtr Input() {
  return arrow::schema({arrow::field("payload", arrow::utf8()), arrow::field("key", arrow::int64()),
                        arrow::field("value", arrow::float64()), arrow::field("ts", arrow::int64()),
                        arrow::field("other", arrow::int32())});
}

PlanNode Window(std::vector<PlanAggregate> aggregates) {
  WindowNode window;
  window.keys = {"key"};
  window.time_column = "ts";
  window.window.kind = WindowSpec::Kind::kTumbling;
  window.window.size_ms = 10'000;
  window.aggregates = std::move(aggregates);
  PlanNode node;
  node.label = "window(tumbling, by key)";
  node.inputs = {0};
  node.options = std::move(window);
  return node;
}

TEST(PruneKeyedInputTest, KeepsKeysTimeAndAggregatedColumnsInInputOrder) {
  const PlanNode node = Window({{"count", "", "n"}, {"max", "value", "hi"}});
  PhysicalOperator op = BuildOperator(node, {Input()}, {});
  const SchemaPtr unpruned_output = op.output_schemas[0];
  ASSERT_TRUE(PruneKeyedInput(node, Input(), {}, &op));
  EXPECT_EQ(op.input_columns, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(op.keyed->key_columns(), (std::vector<int>{0}));  // indexes the columns sent
  EXPECT_TRUE(op.output_schemas[0]->Equals(*unpruned_output));
  EXPECT_EQ(op.output_schemas[1]->num_fields(), 3);  // late rows: why pruning needs no consumer
}

TEST(PruneKeyedInputTest, LeavesAnOperatorThatReadsEveryColumnAlone) {
  const auto input = arrow::schema({arrow::field("key", arrow::int64()), arrow::field("ts", arrow::int64())});
  const PlanNode node = Window({{"count", "", "n"}});
  PhysicalOperator op = BuildOperator(node, {input}, {});
  EXPECT_FALSE(PruneKeyedInput(node, input, {}, &op));
  EXPECT_TRUE(op.input_columns.empty());
}

TEST(PruneKeyedInputTest, AGlobalProcessingTimeCountReadsNoColumn) {
  PlanNode node = Window({{"count", "", "n"}});
  auto& window = std::get<WindowNode>(node.options);
  window.keys.clear();
  window.time_column.clear();
  window.window.processing_time = true;
  PhysicalOperator op = BuildOperator(node, {Input()}, {});
  EXPECT_FALSE(PruneKeyedInput(node, Input(), {}, &op));  // an empty list would mean all
  EXPECT_TRUE(op.input_columns.empty());
  EXPECT_EQ(op.output_schemas[1]->num_fields(), 5);
}

}  // namespace
}  // namespace millstream
