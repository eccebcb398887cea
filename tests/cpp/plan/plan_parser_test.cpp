// The plan format is read strictly: each malformed plan is a PlanError naming the node (id, op,
// label) and the field; a plan written back by WritePlan reads the same again.
#include "plan/plan_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "plan/plan_writer.h"

namespace millstream {
namespace {

// A plan of every operator kind, as Python sends it; `{NODE}` is replaced by an extra node.
std::string PlanWith(const std::string& extra_node, const std::string& version = "1") {
  return R"js({"version": )js" + version + R"js(, "parallelism": 2, "max_parallelism": 128,
    "state": {"kind": "rocksdb", "directory": "/tmp/x", "cache_bytes": 1048576},
    "nodes": [
      {"id": 0, "op": "source", "inputs": [], "label": "from_records", "handle": 0},
      {"id": 1, "op": "filter", "inputs": [0], "label": "filter(x > 1)",
       "predicate": {"fn": "gt", "args": [{"col": "x"}, {"lit": 1, "type": "int64"}]}},
      {"id": 2, "op": "project", "inputs": [1], "label": "select(x)",
       "expressions": [{"col": "x"}, {"alias": "y", "expr": {"col": "x"}}]},
      {"id": 3, "op": "map_batches", "inputs": [2], "label": "map_batches(f)", "handle": 0,
       "schema": [["x", "int64"], ["t", "timestamp[ms, tz=UTC]"]]},
      {"id": 4, "op": "union", "inputs": [2, 2], "label": "union"},
      {"id": 5, "op": "watermark", "inputs": [4], "label": "with_watermark(ts)",
       "time_column": "ts", "max_delay_ms": 5000, "idle_timeout_ms": -1},
      {"id": 6, "op": "window", "inputs": [5], "label": "window(sliding, by k)", "keys": ["k"],
       "time_column": "ts", "window": {"kind": "sliding", "size_ms": 10000, "slide_ms": 2000,
       "offset_ms": 0, "gap_ms": 0, "time": "event"}, "allowed_lateness_ms": 1000,
       "aggregates": [{"kind": "count", "column": "", "name": "n"},
                      {"kind": "sum", "column": "x", "name": "total"}]},
      {"id": 7, "op": "running_agg", "inputs": [5], "label": "agg(by k)", "keys": ["k"],
       "aggregates": [{"kind": "max", "column": "x", "name": "hi"}]},
      {"id": 8, "op": "port", "inputs": [6], "label": "late", "port": 1},
      {"id": 9, "op": "sink", "inputs": [8], "label": "collect", "sink": "collect"},
      {"id": 10, "op": "sink", "inputs": [7], "label": "for_each_batch(f)", "sink": "callback",
       "handle": 0},
      {"id": 11, "op": "sink", "inputs": [3], "label": "write_csv(o.csv)", "sink": "csv",
       "path": "o.csv"})js" + extra_node + R"js(
    ]})js";
}

// The message of the PlanError that parsing `plan_json` throws ("" when it parses).
std::string PlanErrorOf(const std::string& plan_json) {
  try {
    ParsePlan(plan_json);
  } catch (const PlanError& error) {
    return error.what();
  }
  return "";
}

TEST(PlanParserTest, ReadsEveryOperatorIntoItsOwnOptions) {
  const Plan plan = ParsePlan(PlanWith(""));
  ASSERT_EQ(plan.nodes.size(), 12u);
  EXPECT_EQ(plan.parallelism, 2);
  EXPECT_EQ(plan.state.kind, "rocksdb");
  EXPECT_EQ(plan.state.cache_bytes, 1048576);
  const char* ops[] = {"source", "filter", "project", "map_batches", "union", "watermark",
                       "window", "running_agg", "port", "sink", "sink", "sink"};
  for (size_t i = 0; i < plan.nodes.size(); ++i) EXPECT_EQ(plan.nodes[i].op(), ops[i]);
  const auto& window = plan.nodes[6].as<WindowNode>();
  EXPECT_EQ(window.window.kind, WindowSpec::Kind::kSliding);
  EXPECT_EQ(window.window.slide_ms, 2000);
  EXPECT_EQ(window.allowed_lateness_ms, 1000);
  ASSERT_EQ(window.aggregates.size(), 2u);
  EXPECT_EQ(window.aggregates[1].column, "x");
  const auto& map = plan.nodes[3].as<MapBatchesNode>();
  EXPECT_TRUE(map.declared_schema->field(1)->type()->Equals(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC")));
  EXPECT_EQ(plan.nodes[8].consumed_port(), 1);
  EXPECT_EQ(plan.nodes[4].inputs, (std::vector<int>{2, 2}));
  EXPECT_EQ(plan.nodes[11].as<SinkNode>().path, "o.csv");
  EXPECT_EQ(plan.nodes[10].as<SinkNode>().handle, 0);
}

TEST(PlanParserTest, WritingAPlanAndReadingItBackGivesTheSamePlan) {
  const std::string written = WritePlan(ParsePlan(PlanWith("")));
  EXPECT_EQ(WritePlan(ParsePlan(written)), written);
  EXPECT_NE(written.find(R"js("version": 1)js"), std::string::npos);
  EXPECT_NE(written.find(R"js("window": {"kind": "sliding", "size_ms": 10000, "slide_ms": 2000)js"),
            std::string::npos);
}

// A source's `columns` (projection pushdown) is the one optional field: absent, every column.
TEST(PlanParserTest, ASourceReadsItsPushedDownColumnsWhenGiven) {
  const Plan plan = ParsePlan(PlanWith(
      R"js(, {"id": 12, "op": "source", "inputs": [], "label": "read_csv(a.csv)", "handle": 0,
              "columns": ["x", "ts"]})js"));
  EXPECT_FALSE(plan.nodes.front().as<SourceNode>().columns.has_value());
  const auto& source = plan.nodes.back().as<SourceNode>();
  ASSERT_TRUE(source.columns.has_value());
  EXPECT_EQ(*source.columns, (std::vector<std::string>{"x", "ts"}));
  const std::string written = WritePlan(plan);
  EXPECT_EQ(WritePlan(ParsePlan(written)), written);
  EXPECT_NE(written.find(R"js("handle": 0, "columns": ["x", "ts"])js"), std::string::npos)
      << written;
  EXPECT_NE(PlanErrorOf(PlanWith(R"js(, {"id": 12, "op": "source", "inputs": [], "label": "s",
                                    "handle": 0, "columns": [1]})js")).find("columns"),
            std::string::npos);
}

// A join node: its fields read into JoinNode, written back the same, and checked strictly.
std::string JoinNodeJson(const std::string& fields) {
  return R"js(, {"id": 12, "op": "join", "inputs": [5, 5], "label": "join(outer, on=k)", )js" +
         fields + "}";
}
const char* kJoinFields =
    R"js("left_keys": ["k"], "right_keys": ["k"], "left_time_column": "ts", )js"
    R"js("right_time_column": "ts", "lower_ms": -300000, "upper_ms": 900000, "how": "outer", )js"
    R"js("suffix": "_b", "merge_keys": true)js";

TEST(PlanParserTest, AJoinNodeReadsAndWritesBack) {
  const Plan plan = ParsePlan(PlanWith(JoinNodeJson(kJoinFields)));
  const auto& join = plan.nodes.back().as<JoinNode>();
  EXPECT_EQ(join.left_keys, std::vector<std::string>{"k"});
  EXPECT_EQ(join.lower_ms, -300000);
  EXPECT_EQ(join.upper_ms, 900000);
  EXPECT_EQ(join.how, "outer");
  EXPECT_EQ(join.suffix, "_b");
  EXPECT_TRUE(join.merge_keys);
  EXPECT_EQ(plan.nodes.back().inputs, (std::vector<int>{5, 5}));
  const std::string written = WritePlan(plan);
  EXPECT_EQ(WritePlan(ParsePlan(written)), written);
  EXPECT_NE(written.find(R"js("lower_ms": -300000, "upper_ms": 900000, "how": "outer")js"),
            std::string::npos);
}

TEST(PlanParserTest, AJoinNodeIsCheckedStrictly) {
  std::string fields = kJoinFields;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = fields;
    changed.replace(changed.find(from), from.size(), to);
    return PlanErrorOf(PlanWith(JoinNodeJson(changed)));
  };
  EXPECT_NE(with(R"("how": "outer")", R"("how": "full")").find("field 'how'"), std::string::npos);
  EXPECT_NE(with(R"("lower_ms": -300000)", R"("lower_ms": 1000000)").find("below lower_ms"),
            std::string::npos);
  EXPECT_NE(with(R"("right_keys": ["k"])", R"("right_keys": ["k", "j"])").find("as many on each side"),
            std::string::npos);
  EXPECT_NE(with(R"("merge_keys": true)", R"("merge_keys": 1)").find("expected true or false"),
            std::string::npos);
  const std::string one_input = PlanWith(R"js(, {"id": 12, "op": "join", "inputs": [5], )js"
                                         R"js("label": "join", )js" + fields + "}");
  EXPECT_NE(PlanErrorOf(one_input).find("takes exactly two"), std::string::npos)
      << PlanErrorOf(one_input);
}

TEST(PlanParserTest, AnUnknownOperatorNamesTheNodeAndTheField) {
  const std::string message = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "explode", "inputs": [0], "label": "explode(x)"})js"));
  EXPECT_NE(message.find("plan node 12 (op 'explode', label 'explode(x)'): field 'op'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("running_agg"), std::string::npos) << message;  // lists the operators
}

TEST(PlanParserTest, AnUnknownFieldNamesTheNodeAndTheField) {
  const std::string message = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "port", "inputs": [6], "label": "late", "port": 1, "colour": "red"})js"));
  EXPECT_NE(message.find("plan node 12 (op 'port', label 'late'): field 'colour' is not a field"),
            std::string::npos) << message;
  EXPECT_NE(message.find("port"), std::string::npos);
}

TEST(PlanParserTest, AnUnknownFieldOfANestedObjectIsNamedWithItsPath) {
  const std::string message = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "running_agg", "inputs": [5], "label": "agg(by k)", "keys": [],
            "aggregates": [{"kind": "sum", "column": "x", "name": "s", "distinct": true}]})js"));
  EXPECT_NE(message.find("plan node 12 (op 'running_agg', label 'agg(by k)'): field "
                         "'aggregates[0].distinct'"), std::string::npos) << message;
}

TEST(PlanParserTest, AWrongTypeNamesTheNodeTheFieldAndBothTypes) {
  const std::string message = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "watermark", "inputs": [0], "label": "wm", "time_column": "ts",
            "max_delay_ms": "5s", "idle_timeout_ms": -1})js"));
  EXPECT_NE(message.find("plan node 12 (op 'watermark', label 'wm'): field 'max_delay_ms' is a "
                         "string, expected an integer"), std::string::npos) << message;
  const std::string nested = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "window", "inputs": [5], "label": "w", "keys": ["k"], "time_column": "ts",
            "window": {"kind": "tumbling", "size_ms": 1.5, "slide_ms": 0, "offset_ms": 0,
            "gap_ms": 0, "time": "event"}, "allowed_lateness_ms": 0, "aggregates": []})js"));
  EXPECT_NE(nested.find("plan node 12 (op 'window', label 'w'): field 'window.size_ms' is a float, "
                        "expected an integer"), std::string::npos) << nested;
  const std::string keys = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "running_agg", "inputs": [5], "label": "a", "keys": ["k", 3],
            "aggregates": []})js"));
  EXPECT_NE(keys.find("field 'keys' holds an integer, expected strings only"), std::string::npos) << keys;
}

TEST(PlanParserTest, AMissingFieldNamesTheNodeAndTheField) {
  const std::string message = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "sink", "inputs": [0], "label": "write_csv(x)", "sink": "csv"})js"));
  EXPECT_NE(message.find("plan node 12 (op 'sink', label 'write_csv(x)'): field 'path' is missing"),
            std::string::npos) << message;
  const std::string no_label = PlanErrorOf(PlanWith(R"js(, {"id": 12, "op": "union", "inputs": [0]})js"));
  EXPECT_NE(no_label.find("plan node at position 12 of 'nodes': field 'label' is missing"),
            std::string::npos) << no_label;
}

TEST(PlanParserTest, AValueOutsideItsSetNamesTheField) {
  const std::string sink = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "sink", "inputs": [0], "label": "s", "sink": "elastic"})js"));
  EXPECT_NE(sink.find("plan node 12 (op 'sink', label 's'): field 'sink' is 'elastic'; sink kinds: "
                      "collect, callback, csv, jsonl, parquet, kafka"), std::string::npos) << sink;
  const std::string port = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "port", "inputs": [6], "label": "p", "port": -1})js"));
  EXPECT_NE(port.find("field 'port' is -1"), std::string::npos) << port;
  const std::string state = PlanErrorOf(R"js({"version": 1, "parallelism": 1, "max_parallelism": 8,
      "state": {"kind": "redis", "directory": "", "cache_bytes": 0}, "nodes": []})js");
  EXPECT_NE(state.find("the plan: field 'state.kind' is 'redis'"), std::string::npos) << state;
}

TEST(PlanParserTest, InputsMustBeEarlierNodesAndAsManyAsTheOperatorTakes) {
  const std::string later = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "port", "inputs": [13], "label": "p", "port": 0})js"));
  EXPECT_NE(later.find("plan node 12 (op 'port', label 'p'): field 'inputs' names node 13"),
            std::string::npos) << later;
  const std::string two = PlanErrorOf(PlanWith(
      R"js(, {"id": 12, "op": "port", "inputs": [1, 2], "label": "p", "port": 0})js"));
  EXPECT_NE(two.find("field 'inputs' names 2 inputs; port takes exactly one"), std::string::npos) << two;
  const std::string repeated = PlanErrorOf(PlanWith(
      R"js(, {"id": 3, "op": "union", "inputs": [0], "label": "u"})js"));
  EXPECT_NE(repeated.find("plan node 3 (op 'union', label 'u'): field 'id' repeats"),
            std::string::npos) << repeated;
}

TEST(PlanParserTest, APlanOfAnotherVersionIsRefused) {
  const std::string message = PlanErrorOf(PlanWith("", "2"));
  EXPECT_NE(message.find("plan format version 2; this millstream reads version 1"),
            std::string::npos) << message;
  const std::string missing = PlanErrorOf(R"js({"parallelism": 1, "nodes": []})js");
  EXPECT_NE(missing.find("has no field 'version'"), std::string::npos) << missing;
  EXPECT_THROW(ParseNodeDocument(R"js({"version": 0, "node": {}})js"), PlanError);
}

TEST(PlanParserTest, ANonObjectPlanOrTopLevelFieldIsAPlanError) {
  EXPECT_NE(PlanErrorOf("[1, 2]").find("is an array, expected a JSON object"), std::string::npos);
  EXPECT_NE(PlanErrorOf("{not json").find("is not valid JSON"), std::string::npos);
  const std::string extra = PlanErrorOf(R"js({"version": 1, "parallelism": 1, "max_parallelism": 8,
      "state": {"kind": "memory", "directory": "", "cache_bytes": 0}, "nodes": [], "debug": 1})js");
  EXPECT_NE(extra.find("the plan: field 'debug' is not a field"), std::string::npos) << extra;
}

TEST(PlanParserTest, ANodeDocumentReadsOneNode) {
  const PlanNode node = ParseNodeDocument(
      R"js({"version": 1, "node": {"id": 4, "op": "port", "inputs": [3], "label": "late", "port": 1}})js");
  EXPECT_EQ(node.id, 4);
  EXPECT_EQ(node.consumed_port(), 1);
  EXPECT_EQ(DescribeNode(node), "plan node 4 (op 'port', label 'late')");
  EXPECT_EQ(WriteNode(node), R"js({"id": 4, "op": "port", "inputs": [3], "label": "late", "port": 1})js");
}

TEST(PlanParserTest, HandlesWithoutObjectsBesideThePlanNameTheNode) {
  const Plan plan = ParsePlan(PlanWith(""));
  PlanHandles handles;  // no sources, functions or callbacks
  try {
    CheckHandles(plan, handles);
    FAIL() << "expected a PlanError";
  } catch (const PlanError& error) {
    EXPECT_NE(std::string(error.what()).find(
                  "plan node 0 (op 'source', label 'from_records'): field 'handle' is 0, but the "
                  "run was given 0 sources"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace millstream
