#include "runtime/counting_chain.h"

namespace millstream {

namespace {

class CountingChain final : public Chain {
 public:
  CountingChain(OperatorMetrics* metrics, ChainList children)
      : metrics_(metrics), children_(std::move(children)) {}
  void Push(const BatchPtr& batch, uint64_t origin, uint64_t sequence) override {
    metrics_->rows_in += batch->num_rows();
    metrics_->rows_out += batch->num_rows();
    PushAll(children_, batch, origin, sequence);
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
  OperatorMetrics* metrics_;
  ChainList children_;
};

}  // namespace

std::unique_ptr<Chain> MakeCountingChain(OperatorMetrics* metrics, ChainList children) {
  return std::make_unique<CountingChain>(metrics, std::move(children));
}

}  // namespace millstream
