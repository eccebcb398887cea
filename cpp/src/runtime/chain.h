// The fused part of a pipeline: what one actor does with its output before it reaches another
// actor. A chain is a per-actor instance (a watermark assigner keeps its split's maximum event
// time), built from the const operators of the plan.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "core/watermark_marks.h"
#include "plan/physical.h"
#include "runtime/actor.h"

namespace millstream {

class Chain {
 public:
  virtual ~Chain() = default;
  virtual void Push(const BatchPtr& batch, uint64_t origin, uint64_t sequence) = 0;
  // A batch with the watermark advances between its rows (core/watermark_marks.h; `marks` not
  // empty). By default the batch is cut at its marks, each watermark pushed between the parts;
  // chains that keep rows apart (the keyed exchange) pass the marks on instead.
  virtual void PushMarked(const BatchPtr& batch, const WatermarkMarksPtr& marks, uint64_t origin,
                          uint64_t sequence);
  virtual void PushWatermark(int64_t watermark_ms) = 0;
  // The source split upstream has had no rows for `silent_ms` of wall time (it is waiting:
  // SplitOutput::waiting). A watermark assigner with an idle timeout turns a long enough
  // silence into PushIdle; other chains pass it on. The defaults drop both: for chains that
  // reach no watermark (and test harnesses).
  virtual void PushSilence(int64_t /*silent_ms*/) {}
  // The input is idle: the operators downstream leave it out of their watermark's minimum
  // until it sends rows again (WatermarkTracker::MarkIdle).
  virtual void PushIdle() {}
  virtual void PushEnd() = 0;
  // A checkpoint barrier (issue 17), in order with the rows: every chain passes it on, a send
  // chain to every target. The default is for test chains that never see one: it asserts.
  virtual void PushBarrier(int64_t checkpoint_id);
  // The chain's state for a checkpoint (a watermark assigner's maximum event time, watermark
  // and idleness), appended as numbers in the order of the chain tree, children after their
  // parent; RestoreState reads the same back from state[*at], moving *at past it. Stateless
  // chains pass both on to their children; the defaults are for chains without children.
  virtual void SaveState(std::vector<int64_t>* /*state*/) const {}
  virtual void RestoreState(const std::vector<int64_t>& /*state*/, size_t* /*at*/) {}
};

using ChainList = std::vector<std::unique_ptr<Chain>>;

void PushAll(ChainList& chains, const BatchPtr& batch, uint64_t origin, uint64_t sequence);
// PushAll, or PushMarked when `marks` holds any.
void PushMarkedAll(ChainList& chains, const BatchPtr& batch, const WatermarkMarksPtr& marks,
                   uint64_t origin, uint64_t sequence);
void PushWatermarkAll(ChainList& chains, int64_t watermark_ms);
void PushSilenceAll(ChainList& chains, int64_t silent_ms);
void PushIdleAll(ChainList& chains);
void PushEndAll(ChainList& chains);
void PushBarrierAll(ChainList& chains, int64_t checkpoint_id);
void SaveStateAll(const ChainList& chains, std::vector<int64_t>* state);
void RestoreStateAll(ChainList& chains, const std::vector<int64_t>& state, size_t* at);

std::unique_ptr<Chain> MakeTransformChain(std::shared_ptr<BatchTransform> transform,
                                          OperatorMetrics* metrics, ChainList children);
// Where a watermark assigner fed by one source split publishes that split's watermark and
// idleness, for the executor's alignment of the source's splits by watermark.
struct SplitWatermark {
  std::atomic<int64_t> watermark_ms{kMinWatermarkMs};
  std::atomic<bool> idle{false};
};
// `published`: null, or where to publish the watermark (a chain of a source split).
std::unique_ptr<Chain> MakeWatermarkChain(WatermarkAssignment assignment, OperatorMetrics* metrics,
                                          ChainList children, SplitWatermark* published = nullptr);
// Hands batches to other actors: to one actor, or partitioned by key group over a keyed
// operator's subtasks (`key_columns` empty: one global key, all rows to key group 0). Sends
// only the `columns` of each batch (empty: all; `key_columns` index the columns sent).
std::unique_ptr<Chain> MakeSendChain(std::vector<Actor*> targets, int input,
                                     std::vector<int> columns, std::vector<int> key_columns,
                                     bool keyed, int max_parallelism);

}  // namespace millstream
