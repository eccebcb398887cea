#include "runtime/chain.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api_vector.h>
#include <arrow/datum.h>

#include "core/error.h"
#include "core/key_groups.h"
#include "core/time_arithmetic.h"
#include "expr/row_selection.h"

namespace millstream {

void PushAll(ChainList& chains, const BatchPtr& batch, uint64_t origin, uint64_t sequence) {
  for (auto& chain : chains) chain->Push(batch, origin, sequence);
}

void PushMarkedAll(ChainList& chains, const BatchPtr& batch, const WatermarkMarksPtr& marks,
                   uint64_t origin, uint64_t sequence) {
  if (!marks || marks->empty()) {
    PushAll(chains, batch, origin, sequence);
    return;
  }
  for (auto& chain : chains) chain->PushMarked(batch, marks, origin, sequence);
}

void Chain::PushMarked(const BatchPtr& batch, const WatermarkMarksPtr& marks, uint64_t origin,
                       uint64_t sequence) {
  int64_t begin = 0;
  for (const WatermarkMark& mark : *marks) {
    MS_CHECK(mark.row >= begin && mark.row < batch->num_rows(), "watermark marks out of order");
    if (mark.row > begin) Push(batch->Slice(begin, mark.row - begin), origin, sequence);
    begin = mark.row;
    PushWatermark(mark.watermark_ms);
  }
  Push(begin == 0 ? batch : batch->Slice(begin), origin, sequence);
}

void PushWatermarkAll(ChainList& chains, int64_t watermark_ms) {
  for (auto& chain : chains) chain->PushWatermark(watermark_ms);
}

void PushSilenceAll(ChainList& chains, int64_t silent_ms) {
  for (auto& chain : chains) chain->PushSilence(silent_ms);
}

void PushIdleAll(ChainList& chains) {
  for (auto& chain : chains) chain->PushIdle();
}

void PushEndAll(ChainList& chains) {
  for (auto& chain : chains) chain->PushEnd();
}

void PushBarrierAll(ChainList& chains, int64_t checkpoint_id) {
  for (auto& chain : chains) chain->PushBarrier(checkpoint_id);
}

void SaveStateAll(const ChainList& chains, std::vector<int64_t>* state) {
  for (const auto& chain : chains) chain->SaveState(state);
}

void RestoreStateAll(ChainList& chains, const std::vector<int64_t>& state, size_t* at) {
  for (auto& chain : chains) chain->RestoreState(state, at);
}

void Chain::PushBarrier(int64_t checkpoint_id) {
  MS_CHECK(false, "a chain that cannot pass on a checkpoint barrier got checkpoint " +
                      std::to_string(checkpoint_id));
}

namespace {

// Reads state[*at] for RestoreState, checking the state is as long as the chain tree needs.
int64_t NextState(const std::vector<int64_t>& state, size_t* at) {
  MS_CHECK(*at < state.size(), "a chain state shorter than its chain tree");
  return state[(*at)++];
}

class TransformChain final : public Chain {
 public:
  TransformChain(std::shared_ptr<BatchTransform> transform, OperatorMetrics* metrics,
                 ChainList children)
      : transform_(std::move(transform)), metrics_(metrics), children_(std::move(children)) {}
  void Push(const BatchPtr& batch, uint64_t origin, uint64_t sequence) override {
    metrics_->rows_in += batch->num_rows();
    BatchPtr output = transform_->Apply(batch);
    if (!output || output->num_rows() == 0) return;
    metrics_->rows_out += output->num_rows();
    PushAll(children_, output, origin, sequence);
  }
  void PushMarked(const BatchPtr& batch, const WatermarkMarksPtr& marks, uint64_t origin,
                  uint64_t sequence) override {
    BatchPtr output;
    auto output_marks = std::make_shared<WatermarkMarks>();
    if (!transform_->ApplyMarked(batch, *marks, &output, output_marks.get())) {
      Chain::PushMarked(batch, marks, origin, sequence);  // rows unknown: cut at the marks
      return;
    }
    metrics_->rows_in += batch->num_rows();
    // Marks after the last row kept are dropped: the watermark chain sends the last one after
    // the batch.
    if (!output || output->num_rows() == 0) return;
    metrics_->rows_out += output->num_rows();
    PushMarkedAll(children_, output, output_marks, origin, sequence);
  }
  void PushWatermark(int64_t watermark_ms) override { PushWatermarkAll(children_, watermark_ms); }
  void PushSilence(int64_t silent_ms) override { PushSilenceAll(children_, silent_ms); }
  void PushIdle() override { PushIdleAll(children_); }
  void PushEnd() override { PushEndAll(children_); }
  void PushBarrier(int64_t checkpoint_id) override { PushBarrierAll(children_, checkpoint_id); }
  void SaveState(std::vector<int64_t>* state) const override { SaveStateAll(children_, state); }
  void RestoreState(const std::vector<int64_t>& state, size_t* at) override {
    RestoreStateAll(children_, state, at);
  }

 private:
  std::shared_ptr<BatchTransform> transform_;
  OperatorMetrics* metrics_;
  ChainList children_;
};

// Bounded out-of-orderness: the watermark is the largest event time seen in this split minus
// max_delay. Watermarks from upstream are replaced by this one.
//
// So that which rows are late does not depend on batching, the watermark advances as if after
// every row: before each row whose time is already behind the watermark of the rows before it
// (the only rows that can be late), the batch carries that watermark as a mark
// (core/watermark_marks.h) when it moved since the last one. In-order data carries none.
class WatermarkChain final : public Chain {
 public:
  WatermarkChain(WatermarkAssignment assignment, OperatorMetrics* metrics, ChainList children,
                 SplitWatermark* published)
      : assignment_(assignment), metrics_(metrics), children_(std::move(children)),
        published_(published) {}
  void Push(const BatchPtr& batch, uint64_t origin, uint64_t sequence) override {
    metrics_->rows_in += batch->num_rows();
    metrics_->rows_out += batch->num_rows();
    const arrow::Array& column = *batch->column(assignment_.time_column);
    TimeColumnToMs(column, assignment_.units_per_ms, &times_ms_);
    std::shared_ptr<WatermarkMarks> marks;
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      if (!column.IsValid(row)) continue;
      const int64_t time_ms = times_ms_[row];
      if (!IsEventTimeMs(time_ms)) {
        ThrowTimeOutOfRange(time_ms, "with_watermark: time column '" +
                                         batch->schema()->field(assignment_.time_column)->name() +
                                         "' at row " + std::to_string(row) + " of a batch");
      }
      if (max_event_ms_ != kMinWatermarkMs && time_ms < Watermark() && Watermark() > emitted_ms_) {
        if (!marks) marks = std::make_shared<WatermarkMarks>();
        marks->push_back(WatermarkMark{row, Watermark()});
        emitted_ms_ = Watermark();
      }
      if (time_ms > max_event_ms_) max_event_ms_ = time_ms;
    }
    idle_ = false;
    if (published_ != nullptr) published_->idle = false;
    PushMarkedAll(children_, batch, marks, origin, sequence);
    // A part of the batch (a subtask's rows, a filter's) may end before its last mark, which is
    // then dropped from it: the last mark's watermark follows the batch for those.
    if (marks) {
      PushWatermarkAll(children_, emitted_ms_);
      metrics_->NoteWatermark(emitted_ms_);
    }
    Advance();
  }
  void PushWatermark(int64_t) override {}
  // Idleness is decided here, where the idle timeout is known (with_watermark(idle_timeout=)):
  // a split silent for that long stops holding back the operators' watermark, once, until its
  // next rows. Without an idle timeout a silent split holds it back (its next row may be old).
  void PushSilence(int64_t silent_ms) override {
    if (assignment_.idle_timeout_ms < 0 || idle_ || silent_ms < assignment_.idle_timeout_ms) return;
    idle_ = true;
    if (published_ != nullptr) published_->idle = true;
    PushIdleAll(children_);
  }
  void PushIdle() override {}  // upstream idleness is replaced by this assigner's, as watermarks are
  void PushEnd() override { PushEndAll(children_); }
  void PushBarrier(int64_t checkpoint_id) override { PushBarrierAll(children_, checkpoint_id); }
  void SaveState(std::vector<int64_t>* state) const override {
    state->insert(state->end(), {max_event_ms_, emitted_ms_, idle_ ? 1 : 0});
    SaveStateAll(children_, state);
  }
  void RestoreState(const std::vector<int64_t>& state, size_t* at) override {
    max_event_ms_ = NextState(state, at);
    emitted_ms_ = NextState(state, at);
    idle_ = NextState(state, at) != 0;
    if (published_ != nullptr) {
      published_->watermark_ms = emitted_ms_;
      published_->idle = idle_;
    }
    RestoreStateAll(children_, state, at);
  }

 private:
  // Saturates: a time near the int64 minimum must not wrap to a watermark far in the future.
  int64_t Watermark() const { return SaturatingSubtract(max_event_ms_, assignment_.max_delay_ms); }

  void Advance() {
    if (max_event_ms_ == kMinWatermarkMs) return;
    const int64_t watermark_ms = Watermark();
    if (watermark_ms > emitted_ms_) {
      emitted_ms_ = watermark_ms;
      metrics_->NoteWatermark(watermark_ms);
      PushWatermarkAll(children_, watermark_ms);
    }
    if (published_ != nullptr) published_->watermark_ms = emitted_ms_;
  }

  WatermarkAssignment assignment_;
  OperatorMetrics* metrics_;
  ChainList children_;
  std::vector<int64_t> times_ms_;
  int64_t max_event_ms_ = kMinWatermarkMs;
  int64_t emitted_ms_ = kMinWatermarkMs;
  bool idle_ = false;  // PushIdle went out and no rows came since
  SplitWatermark* published_;  // null unless fed by a source split that is aligned
};

// Watermarks given with the rows (ExplicitWatermarkNode, the testing kit's events): a row's
// watermark column holds the watermark in force from that row on, null where it does not move.
// It travels as the marks of the batch, as a derived one does (before row 0: ahead of the
// batch), and the column is dropped. A watermark never goes back: one below the last is a
// UserError naming the row, as the testing kit checks its input before.
class ExplicitWatermarkChain final : public Chain {
 public:
  ExplicitWatermarkChain(WatermarkAssignment assignment, OperatorMetrics* metrics, ChainList children)
      : assignment_(assignment), metrics_(metrics), children_(std::move(children)) {}
  void Push(const BatchPtr& batch, uint64_t origin, uint64_t sequence) override {
    metrics_->rows_in += batch->num_rows();
    metrics_->rows_out += batch->num_rows();
    const auto& watermarks =
        static_cast<const arrow::Int64Array&>(*batch->column(assignment_.watermark_column));
    std::shared_ptr<WatermarkMarks> marks;
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      if (!watermarks.IsValid(row)) continue;
      const int64_t watermark_ms = watermarks.Value(row);
      if (!IsEventTimeMs(watermark_ms)) {
        ThrowTimeOutOfRange(watermark_ms, "watermark column '" + ColumnName(*batch) + "' at row " +
                                              std::to_string(row) + " of a batch");
      }
      if (watermark_ms < emitted_ms_) {
        throw UserError("watermark column '" + ColumnName(*batch) + "' goes back from " +
                        std::to_string(emitted_ms_) + " to " + std::to_string(watermark_ms) +
                        " at row " + std::to_string(row) +
                        " of a batch: a watermark never goes back; give non-decreasing ones");
      }
      if (watermark_ms == emitted_ms_) continue;
      emitted_ms_ = watermark_ms;
      if (row == 0) {
        PushWatermarkAll(children_, watermark_ms);
      } else {
        if (!marks) marks = std::make_shared<WatermarkMarks>();
        marks->push_back(WatermarkMark{row, watermark_ms});
      }
    }
    const BatchPtr rows =
        CheckArrow(batch->RemoveColumn(assignment_.watermark_column), "dropping the watermark column");
    PushMarkedAll(children_, rows, marks, origin, sequence);
    // As WatermarkChain: a part of the batch that ends before its last mark loses it.
    if (marks) PushWatermarkAll(children_, emitted_ms_);
    if (emitted_ms_ != kMinWatermarkMs) metrics_->NoteWatermark(emitted_ms_);
  }
  void PushWatermark(int64_t) override {}
  void PushEnd() override { PushEndAll(children_); }
  void PushBarrier(int64_t checkpoint_id) override { PushBarrierAll(children_, checkpoint_id); }
  void SaveState(std::vector<int64_t>* state) const override {
    state->push_back(emitted_ms_);
    SaveStateAll(children_, state);
  }
  void RestoreState(const std::vector<int64_t>& state, size_t* at) override {
    emitted_ms_ = NextState(state, at);
    RestoreStateAll(children_, state, at);
  }

 private:
  const std::string& ColumnName(const arrow::RecordBatch& batch) const {
    return batch.schema()->field(assignment_.watermark_column)->name();
  }

  WatermarkAssignment assignment_;
  OperatorMetrics* metrics_;
  ChainList children_;
  int64_t emitted_ms_ = kMinWatermarkMs;
};

class SendChain final : public Chain {
 public:
  SendChain(std::vector<Actor*> targets, int input, std::vector<int> columns,
            std::vector<int> key_columns, bool keyed, int max_parallelism)
      : targets_(std::move(targets)),
        input_(input),
        columns_(std::move(columns)),
        key_columns_(std::move(key_columns)),
        keyed_(keyed),
        max_parallelism_(max_parallelism) {
    for (int subtask = 0; keyed_ && subtask < static_cast<int>(targets_.size()); ++subtask) {
      ranges_.push_back(KeyGroupRange(subtask, static_cast<int>(targets_.size()), max_parallelism_));
    }
  }

  void Push(const BatchPtr& input, uint64_t origin, uint64_t sequence) override {
    Route(input, nullptr, origin, sequence);
  }

  // The marks go with the rows: each subtask's part carries them renumbered in the part.
  void PushMarked(const BatchPtr& input, const WatermarkMarksPtr& marks, uint64_t origin,
                  uint64_t sequence) override {
    Route(input, marks, origin, sequence);
  }

  void PushWatermark(int64_t watermark_ms) override { SendToAll(Message::Kind::kWatermark, watermark_ms); }
  void PushSilence(int64_t) override {}
  void PushIdle() override { SendToAll(Message::Kind::kIdle); }
  void PushEnd() override { SendToAll(Message::Kind::kEnd); }
  void PushBarrier(int64_t checkpoint_id) override {
    for (Actor* target : targets_) {
      Message message;
      message.kind = Message::Kind::kBarrier;
      message.input = input_;
      message.checkpoint_id = checkpoint_id;
      target->Enqueue(std::move(message));
    }
  }

 private:
  void Route(const BatchPtr& input, const WatermarkMarksPtr& marks, uint64_t origin,
             uint64_t sequence) {
    const BatchPtr batch = columns_.empty()
        ? input : CheckArrow(input->SelectColumns(columns_), "selecting the columns a keyed operator reads");
    if (!keyed_) {
      Send(0, batch, nullptr, marks, origin, sequence);
      return;
    }
    const int parallelism = static_cast<int>(targets_.size());
    auto key_groups = std::make_shared<std::vector<uint16_t>>();
    if (key_columns_.empty()) {
      key_groups->assign(batch->num_rows(), 0);
    } else {
      ComputeKeyGroups(*batch, key_columns_, max_parallelism_, key_groups.get());
    }
    if (parallelism == 1) {
      Send(0, batch, std::move(key_groups), marks, origin, sequence);
      return;
    }
    // Each subtask owns a contiguous range of key groups: select its rows by a compare of their
    // key groups (a bitmap, then row numbers), and copy every subtask's rows in one pass over
    // each column (`expr/row_selection.h`: AVX-512 compress for 4- and 8-byte columns). Arrow's
    // Take spent as long again checking the indices' bounds.
    const int64_t rows = batch->num_rows();
    std::vector<int> subtasks;
    std::vector<expr::RowSelection> parts;
    for (int subtask = 0; subtask < parallelism; ++subtask) {
      const auto [first, end] = ranges_[subtask];
      if (first == end) continue;
      expr::RowSelection selection = expr::SelectionInRange(
          key_groups->data(), rows, static_cast<uint16_t>(first), static_cast<uint16_t>(end));
      if (selection.count == 0) continue;
      if (selection.count == rows) {  // then no other subtask has a row
        Send(subtask, batch, key_groups, marks, origin, sequence);
        return;
      }
      subtasks.push_back(subtask);
      parts.push_back(std::move(selection));
    }
    std::vector<BatchPtr> batches = expr::TakeSelectedRowsForEach(batch, parts);
    for (size_t part = 0; part < parts.size(); ++part) {
      const expr::RowSelection& selection = parts[part];
      auto groups = std::make_shared<std::vector<uint16_t>>(selection.count);
      const int32_t* selected = selection.data();
      for (int64_t i = 0; i < selection.count; ++i) (*groups)[i] = (*key_groups)[selected[i]];
      WatermarkMarksPtr part_marks;
      if (marks) {
        auto selected_marks = std::make_shared<WatermarkMarks>(SelectMarks(*marks, selected, selection.count));
        if (!selected_marks->empty()) part_marks = std::move(selected_marks);
      }
      Send(subtasks[part], std::move(batches[part]), std::move(groups), std::move(part_marks),
           origin, sequence);
    }
  }

  // A message without rows (watermark, idleness, end) goes to every subtask.
  void SendToAll(Message::Kind kind, int64_t watermark_ms = 0) {
    for (Actor* target : targets_) {
      Message message;
      message.kind = kind;
      message.input = input_;
      message.watermark_ms = watermark_ms;
      target->Enqueue(std::move(message));
    }
  }

  void Send(int subtask, BatchPtr batch, std::shared_ptr<const std::vector<uint16_t>> key_groups,
            WatermarkMarksPtr marks, uint64_t origin, uint64_t sequence) {
    Message message;
    message.kind = Message::Kind::kBatch;
    message.input = input_;
    message.batch = std::move(batch);
    message.key_groups = std::move(key_groups);
    message.marks = std::move(marks);
    message.origin = origin;
    message.sequence = sequence;
    targets_[subtask]->Enqueue(std::move(message));
  }

  std::vector<Actor*> targets_;
  int input_;
  std::vector<int> columns_;
  std::vector<int> key_columns_;
  bool keyed_;
  int max_parallelism_;
  std::vector<std::pair<int, int>> ranges_;  // per subtask: its key groups [first, end)
};

}  // namespace

std::unique_ptr<Chain> MakeTransformChain(std::shared_ptr<BatchTransform> transform,
                                          OperatorMetrics* metrics, ChainList children) {
  return std::make_unique<TransformChain>(std::move(transform), metrics, std::move(children));
}

std::unique_ptr<Chain> MakeWatermarkChain(WatermarkAssignment assignment, OperatorMetrics* metrics,
                                          ChainList children, SplitWatermark* published) {
  if (assignment.watermark_column >= 0) {
    return std::make_unique<ExplicitWatermarkChain>(assignment, metrics, std::move(children));
  }
  return std::make_unique<WatermarkChain>(assignment, metrics, std::move(children), published);
}

std::unique_ptr<Chain> MakeSendChain(std::vector<Actor*> targets, int input,
                                     std::vector<int> columns, std::vector<int> key_columns,
                                     bool keyed, int max_parallelism) {
  return std::make_unique<SendChain>(std::move(targets), input, std::move(columns),
                                     std::move(key_columns), keyed, max_parallelism);
}

}  // namespace millstream
