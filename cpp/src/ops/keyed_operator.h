// A keyed operator (window aggregation, running aggregation, later joins) is a const plan plus
// one state object per subtask. A subtask owns a contiguous range of key groups and sees every
// row of those key groups, serially: its state needs no locks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"
#include "core/metrics.h"
#include "core/snapshot.h"
#include "core/watermark_marks.h"

namespace millstream {

class StateBackend;

// Where an operator's state sends its output. Port 0 is the main output; operators with a side
// output (late rows of a window) use port 1.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual void Emit(int port, BatchPtr batch) = 0;
  // The operator's watermark advanced to `watermark_ms` between the rows of an input batch
  // (KeyedOperatorState::OnMarkedBatch), after the output emitted so far: the runtime passes
  // it on to the operator's consumers (the watermark reached at the end of a batch, it passes
  // on itself).
  virtual void Watermark(int64_t watermark_ms) { (void)watermark_ms; }
};

struct SubtaskContext {
  int subtask = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  int first_key_group = 0;   // inclusive
  int end_key_group = 128;   // exclusive
  OperatorMetrics* metrics = nullptr;
  std::unique_ptr<StateBackend> state;  // this subtask's state (memory or rocksdb)
  // Bytes of hot state (accumulators) the subtask may keep in memory before writing back to
  // `state`; -1 means unbounded (the memory backend).
  int64_t hot_state_bytes = -1;
  // A restored run (issue 17): the directories that KeyedOperatorState::Snapshot of the earlier
  // run's subtasks of this operator wrote, those whose key groups overlap [first_key_group,
  // end_key_group) (one at the same parallelism; several or a shared one when rescaled), and the
  // operator's watermark at that checkpoint. CreateState restores from them before any input:
  // only this subtask's key groups. Empty: a fresh start.
  std::vector<std::string> restore_from;
  int64_t restored_watermark_ms = kMinWatermarkMs;
};

class KeyedOperatorState {
 public:
  virtual ~KeyedOperatorState() = default;
  // `rows` has the operator's input schema; `key_groups[i]` is row i's key group.
  virtual void OnBatch(const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
                       Emitter& out) = 0;
  // The same, where the operator's watermark advances between rows (core/watermark_marks.h:
  // `marks` not empty, in the batch's row numbers): each row is late or not by the watermark in
  // force before it, as if the batch were cut at the marks. This default does cut it (OnBatch
  // of each part, OnWatermark and out.Watermark at each mark); states that decide lateness per
  // row override it to keep the batch whole.
  virtual void OnMarkedBatch(const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
                             const WatermarkMarks& marks, Emitter& out);
  // A batch of the operator's input `input` (a join's left 0 or right 1; always 0 for
  // operators of one input); `marks` null when the watermark does not advance inside it. This
  // default is OnBatch / OnMarkedBatch: only operators of several inputs override it.
  virtual void OnInputBatch(int input, const BatchPtr& rows, const std::vector<uint16_t>& key_groups,
                            const WatermarkMarks* marks, Emitter& out);
  // The minimum watermark over the operator's inputs advanced to `watermark_ms`.
  virtual void OnWatermark(int64_t watermark_ms, Emitter& out) = 0;
  // Every input ended (after the final watermark): emit what is left.
  virtual void OnEnd(Emitter& out) = 0;
  // A checkpoint barrier reached the subtask on every input (aligned): writes everything this
  // subtask needs to continue as if never stopped (entries hot and cold, timers, pending output
  // bookkeeping) into target.directory, for SubtaskContext::restore_from of a later run. The
  // runtime keeps the watermark tracker itself. Throws UserError for a state that cannot be
  // checkpointed.
  virtual void Snapshot(const SnapshotTarget& target);
};

class KeyedOperator {
 public:
  virtual ~KeyedOperator() = default;
  virtual std::string name() const = 0;
  virtual SchemaPtr output_schema(int port) const = 0;
  virtual int num_ports() const { return 1; }
  // Indices of the key columns in the input schema.
  virtual const std::vector<int>& key_columns() const = 0;
  // Operators of two inputs (joins): both inputs are keyed into the same subtasks, each by its
  // own key columns (whose encoded bytes and hashes agree for equal keys: the plan checks the
  // types match), and each batch says which input it came from (OnInputBatch).
  virtual int num_inputs() const { return 1; }
  virtual const std::vector<int>& input_key_columns(int input) const { return key_columns(); }
  // The watermark of the output, given the minimum over the inputs: the operator's watermark
  // passed on, unless its output can still carry older times (a join's pairs and unmatched rows).
  virtual int64_t OutputWatermark(int64_t input_watermark_ms) const { return input_watermark_ms; }
  virtual std::unique_ptr<KeyedOperatorState> CreateState(SubtaskContext context) const = 0;
};

}  // namespace millstream
