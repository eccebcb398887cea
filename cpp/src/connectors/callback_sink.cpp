// for_each_batch(fn): calls a function with every batch as it arrives.
//
// Checkpoints: at-least-once. What the function did with a batch is outside the run (a database
// write, a print), so nothing can take it back: after a restore, the batches it was given since
// the checkpoint restored are given to it again (the same rows; their batches may be cut
// differently). A function that must see each row once keeps its own record of what it wrote
// (an upsert by key, or the checkpoint id alongside its output).
#include "connectors/sink.h"

namespace millstream {

namespace {

class CallbackSink final : public Sink {
 public:
  explicit CallbackSink(SinkCallback callback) : callback_(std::move(callback)) {}
  void Write(BatchPtr batch, uint64_t, uint64_t) override { callback_(batch); }
  void Finish() override {}
  void PrepareCheckpoint(const SnapshotTarget&) override {}  // nothing held back: see above
  void Restore(const std::string&) override {}

 private:
  SinkCallback callback_;
};

}  // namespace

std::unique_ptr<Sink> MakeCallbackSink(SinkCallback callback) {
  return std::make_unique<CallbackSink>(std::move(callback));
}

}  // namespace millstream
