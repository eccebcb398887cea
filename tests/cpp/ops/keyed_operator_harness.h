// Drives a KeyedOperator the way the runtime does (rows routed to the subtask owning their key
// group, OnBatch serially per subtask, watermarks to every subtask, the final watermark and
// OnEnd at the end), over either state backend, and collects both output ports. Also: random
// input, and result rows as comparable tuples for checks against a reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <gtest/gtest.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/key_groups.h"
#include "ops/keyed_operator.h"
#include "state/state_backend.h"
#include "state/state_factory.h"

namespace millstream::testing {

struct RunOptions {
  int parallelism = 1;
  int max_parallelism = 128;
  std::string backend = "memory";     // "memory" | "rocksdb"
  int64_t hot_state_bytes = -1;
  int64_t cache_bytes = 64ll << 20;
};

// One step of an input: rows (a slice of the whole input) or a watermark.
struct Step {
  int64_t offset = 0, length = 0;  // rows [offset, offset + length) when watermark_ms unset
  bool is_watermark = false;
  int64_t watermark_ms = 0;
};

class CollectingEmitter final : public Emitter {
 public:
  void Emit(int port, BatchPtr batch) override {
    ASSERT_TRUE(port == 0 || port == 1) << "unexpected port " << port;
    if (batch->num_rows() > 0) ports[port].push_back(std::move(batch));
  }
  std::vector<BatchPtr> ports[2];
};

struct RunResult {
  std::shared_ptr<arrow::Table> output;  // port 0
  std::shared_ptr<arrow::Table> late;    // port 1
  std::vector<std::vector<BatchPtr>> per_subtask_output;
  int64_t rows_late = 0;
  int64_t state_entries_after = 0;
};

inline std::shared_ptr<arrow::Table> Concat(const std::vector<BatchPtr>& batches,
                                            const SchemaPtr& schema) {
  return CheckArrow(arrow::Table::FromRecordBatches(schema, batches), "concat");
}

// Runs `op` over `input` following `steps`; `observe` (if set) sees the metrics after each step.
template <typename Observer>
RunResult RunKeyedOperator(const KeyedOperator& op, const BatchPtr& input,
                           const std::vector<Step>& steps, const RunOptions& options,
                           Observer&& observe) {
  StateOptions state_options;
  state_options.kind = options.backend;
  state_options.cache_bytes = options.cache_bytes;
  auto environment = StateEnvironment::Create(state_options);
  OperatorMetrics metrics(op.name());
  std::vector<std::unique_ptr<KeyedOperatorState>> states;
  std::vector<CollectingEmitter> emitters(options.parallelism);
  for (int p = 0; p < options.parallelism; ++p) {
    SubtaskContext context;
    context.subtask = p;
    context.parallelism = options.parallelism;
    context.max_parallelism = options.max_parallelism;
    auto [first, end] = KeyGroupRange(p, options.parallelism, options.max_parallelism);
    context.first_key_group = first;
    context.end_key_group = end;
    context.metrics = &metrics;
    context.state = environment->MakeBackend("op", p);
    context.hot_state_bytes = options.hot_state_bytes;
    states.push_back(op.CreateState(std::move(context)));
  }
  std::vector<uint16_t> key_groups;
  for (const Step& step : steps) {
    if (step.is_watermark) {
      for (int p = 0; p < options.parallelism; ++p) {
        states[p]->OnWatermark(step.watermark_ms, emitters[p]);
      }
    } else if (step.length > 0) {
      BatchPtr slice = input->Slice(step.offset, step.length);
      ComputeKeyGroups(*slice, op.key_columns(), options.max_parallelism, &key_groups);
      for (int p = 0; p < options.parallelism; ++p) {
        arrow::Int64Builder take;
        std::vector<uint16_t> mine;
        for (int64_t i = 0; i < slice->num_rows(); ++i) {
          if (SubtaskOfKeyGroup(key_groups[i], options.parallelism, options.max_parallelism) == p) {
            CheckArrow(take.Append(i), "take");
            mine.push_back(key_groups[i]);
          }
        }
        if (mine.empty()) continue;
        auto indices = CheckArrow(take.Finish(), "take");
        BatchPtr part = mine.size() == static_cast<size_t>(slice->num_rows())
                            ? slice
                            : CheckArrow(arrow::compute::Take(slice, indices), "take").record_batch();
        states[p]->OnBatch(part, mine, emitters[p]);
      }
    }
    observe(metrics);
  }
  for (int p = 0; p < options.parallelism; ++p) {
    states[p]->OnWatermark(kFinalWatermarkMs, emitters[p]);
    states[p]->OnEnd(emitters[p]);
  }
  RunResult result;
  std::vector<BatchPtr> all[2];
  for (int p = 0; p < options.parallelism; ++p) {
    for (int port = 0; port < 2; ++port) {
      all[port].insert(all[port].end(), emitters[p].ports[port].begin(), emitters[p].ports[port].end());
    }
    result.per_subtask_output.push_back(emitters[p].ports[0]);
  }
  result.output = Concat(all[0], op.output_schema(0));
  result.late = Concat(all[1], op.num_ports() > 1 ? op.output_schema(1) : input->schema());
  result.rows_late = metrics.rows_late.load();
  states.clear();
  result.state_entries_after = metrics.state_entries.load();
  return result;
}

inline RunResult RunKeyedOperator(const KeyedOperator& op, const BatchPtr& input,
                                  const std::vector<Step>& steps, const RunOptions& options) {
  return RunKeyedOperator(op, input, steps, options, [](const OperatorMetrics&) {});
}

// Steps over `times_ms` (the input's event times, in input order): random batch sizes in
// [1, max_batch]; after each batch, a watermark = max time seen - max_delay_ms (when it
// advances) with probability watermark_probability.
inline std::vector<Step> RandomSteps(const std::vector<int64_t>& times_ms, int64_t max_batch,
                                     int64_t max_delay_ms, double watermark_probability,
                                     std::mt19937_64& random) {
  std::vector<Step> steps;
  int64_t offset = 0, max_seen = INT64_MIN, last_watermark = INT64_MIN;
  const int64_t n = static_cast<int64_t>(times_ms.size());
  std::uniform_int_distribution<int64_t> batch(1, max_batch);
  std::bernoulli_distribution emit(watermark_probability);
  while (offset < n) {
    int64_t length = std::min(batch(random), n - offset);
    steps.push_back(Step{offset, length});
    for (int64_t i = offset; i < offset + length; ++i) max_seen = std::max(max_seen, times_ms[i]);
    offset += length;
    int64_t watermark = max_seen - max_delay_ms;
    if (emit(random) && watermark > last_watermark) {
      steps.push_back(Step{0, 0, true, watermark});
      last_watermark = watermark;
    }
  }
  return steps;
}

// A result cell as something sortable and comparable with a tolerance for floats.
struct Cell {
  bool null = false;
  bool is_double = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  bool operator<(const Cell& o) const {
    if (null != o.null) return null;
    if (integer != o.integer) return integer < o.integer;
    if (text != o.text) return text < o.text;
    return real < o.real;
  }
  bool Near(const Cell& o) const {
    if (null != o.null) return false;
    if (null) return true;
    if (integer != o.integer || text != o.text) return false;
    if (std::isnan(real) || std::isnan(o.real)) return std::isnan(real) && std::isnan(o.real);
    return std::fabs(real - o.real) <= 1e-9 * std::max({1.0, std::fabs(real), std::fabs(o.real)});
  }
};
using Row = std::vector<Cell>;

inline Cell CellOf(const arrow::Array& array, int64_t i) {
  Cell cell;
  if (array.IsNull(i)) {
    cell.null = true;
    return cell;
  }
  auto scalar = CheckArrow(array.GetScalar(i), "scalar");
  switch (array.type_id()) {
    case arrow::Type::DOUBLE:
      cell.is_double = true;
      cell.real = static_cast<const arrow::DoubleScalar&>(*scalar).value;
      break;
    case arrow::Type::INT64:
      cell.integer = static_cast<const arrow::Int64Scalar&>(*scalar).value;
      break;
    case arrow::Type::TIMESTAMP:
      cell.integer = static_cast<const arrow::TimestampScalar&>(*scalar).value;
      break;
    case arrow::Type::BOOL:
      cell.integer = static_cast<const arrow::BooleanScalar&>(*scalar).value;
      break;
    default:
      cell.text = scalar->ToString();
  }
  return cell;
}

inline std::vector<Row> RowsOf(const arrow::Table& table) {
  auto combined = CheckArrow(table.CombineChunksToBatch(), "combine");
  std::vector<Row> rows(combined->num_rows());
  for (int c = 0; c < combined->num_columns(); ++c) {
    for (int64_t i = 0; i < combined->num_rows(); ++i) rows[i].push_back(CellOf(*combined->column(c), i));
  }
  return rows;
}

inline std::string RowString(const Row& row) {
  std::string out = "(";
  for (const Cell& c : row) {
    out += c.null ? "null" : c.is_double ? std::to_string(c.real)
                           : !c.text.empty() ? c.text : std::to_string(c.integer);
    out += ", ";
  }
  return out + ")";
}

// Compares two multisets of rows (floats within a relative 1e-9).
inline void ExpectSameRows(std::vector<Row> actual, std::vector<Row> expected,
                           const std::string& what) {
  std::sort(actual.begin(), actual.end());
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    bool same = actual[i].size() == expected[i].size();
    for (size_t c = 0; same && c < actual[i].size(); ++c) same = actual[i][c].Near(expected[i][c]);
    ASSERT_TRUE(same) << what << ": row " << i << " is " << RowString(actual[i]) << ", expected "
                      << RowString(expected[i]);
  }
}

}  // namespace millstream::testing
