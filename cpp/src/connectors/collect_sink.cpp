// collect(): keeps the batches and hands them back in source order, whatever the parallelism.
#include <algorithm>
#include <tuple>

#include "connectors/sink.h"

namespace millstream {

namespace {

class CollectSink final : public Sink {
 public:
  void Write(BatchPtr batch, uint64_t origin, uint64_t sequence) override {
    batches_.push_back({origin, sequence, std::move(batch)});
  }
  void Finish() override {}
  std::optional<std::vector<BatchPtr>> TakeRows() override {
    // Stable: batches of one position (a keyed operator's outputs) keep their arrival order.
    std::stable_sort(batches_.begin(), batches_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.origin, a.sequence) < std::tie(b.origin, b.sequence);
    });
    std::vector<BatchPtr> rows;
    rows.reserve(batches_.size());
    for (auto& entry : batches_) rows.push_back(std::move(entry.batch));
    batches_.clear();
    return rows;
  }

 private:
  struct Positioned {
    uint64_t origin, sequence;
    BatchPtr batch;
  };
  std::vector<Positioned> batches_;
};

}  // namespace

std::unique_ptr<Sink> MakeCollectSink() { return std::make_unique<CollectSink>(); }

}  // namespace millstream
