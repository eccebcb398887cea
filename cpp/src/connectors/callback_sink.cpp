// for_each_batch(fn): calls a function with every batch as it arrives.
#include "connectors/sink.h"

namespace millstream {

namespace {

class CallbackSink final : public Sink {
 public:
  explicit CallbackSink(SinkCallback callback) : callback_(std::move(callback)) {}
  void Write(BatchPtr batch, uint64_t, uint64_t) override { callback_(batch); }
  void Finish() override {}

 private:
  SinkCallback callback_;
};

}  // namespace

std::unique_ptr<Sink> MakeCallbackSink(SinkCallback callback) {
  return std::make_unique<CallbackSink>(std::move(callback));
}

}  // namespace millstream
