// Timers of a keyed operator, grouped into buckets of time: pushing is O(1) amortised and
// taking what is due at a watermark walks whole buckets in order, where a binary heap would
// cost a cache-missing sift per timer.
//
// Example:
//   TimerBuckets timers(1000);
//   timers.Push(2500, slot);
//   timers.PopDue(3000, &due);   // due holds (2500, slot)
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace millstream {

class TimerBuckets {
 public:
  using Timer = std::pair<int64_t, uint32_t>;  // (deadline ms, key slot)

  explicit TimerBuckets(int64_t width_ms) : width_ms_(width_ms > 0 ? width_ms : 1) {}

  void Push(int64_t deadline_ms, uint32_t slot) {
    const int64_t bucket = Bucket(deadline_ms);
    if (last_ == nullptr || bucket != last_bucket_) {
      last_ = &buckets_[bucket];
      last_bucket_ = bucket;
    }
    last_->emplace_back(deadline_ms, slot);
  }

  // Appends every timer with deadline <= watermark_ms to *due (in no particular order).
  void PopDue(int64_t watermark_ms, std::vector<Timer>* due) {
    const int64_t last_due_bucket = Bucket(watermark_ms);
    while (!buckets_.empty() && buckets_.begin()->first <= last_due_bucket) {
      auto bucket = buckets_.begin();
      if (bucket->first < last_due_bucket) {
        due->insert(due->end(), bucket->second.begin(), bucket->second.end());
        if (last_ == &bucket->second) last_ = nullptr;
        buckets_.erase(bucket);
        continue;
      }
      // The watermark's own bucket: take the due timers, keep the rest.
      std::vector<Timer>& timers = bucket->second;
      size_t kept = 0;
      for (const Timer& timer : timers) {
        if (timer.first <= watermark_ms) due->push_back(timer);
        else timers[kept++] = timer;
      }
      timers.resize(kept);
      if (kept == 0) {
        if (last_ == &timers) last_ = nullptr;
        buckets_.erase(bucket);
      }
      break;
    }
  }

 private:
  int64_t Bucket(int64_t time_ms) const {
    int64_t q = time_ms / width_ms_;
    return (time_ms % width_ms_ != 0 && time_ms < 0) ? q - 1 : q;
  }

  int64_t width_ms_;
  std::map<int64_t, std::vector<Timer>> buckets_;
  std::vector<Timer>* last_ = nullptr;  // the bucket of the last push (pushes cluster in time)
  int64_t last_bucket_ = 0;
};

}  // namespace millstream
