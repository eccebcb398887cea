#include "ops/session_merge.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "ops/window_assigner.h"

namespace millstream {

void SessionList::Insert(size_t index, const Session& session) {
  MS_CHECK(index <= size_, "session index out of range");
  if (size_ == 0) {
    inline_ = session;
    size_ = 1;
    return;
  }
  if (size_ == 1) {
    capacity_ = 4;
    heap_ = static_cast<Session*>(std::malloc(capacity_ * sizeof(Session)));
    MS_CHECK(heap_ != nullptr, "out of memory for sessions");
    heap_[0] = inline_;
  } else if (size_ == capacity_) {
    capacity_ *= 2;
    heap_ = static_cast<Session*>(std::realloc(heap_, capacity_ * sizeof(Session)));
    MS_CHECK(heap_ != nullptr, "out of memory for sessions");
  }
  std::memmove(heap_ + index + 1, heap_ + index, (size_ - index) * sizeof(Session));
  heap_[index] = session;
  ++size_;
}

void SessionList::Erase(size_t first, size_t last) {
  MS_CHECK(first <= last && last <= size_, "session range out of range");
  if (first == last) return;
  if (size_ == 1) {
    size_ = 0;
    return;
  }
  std::memmove(heap_ + first, heap_ + last, (size_ - last) * sizeof(Session));
  size_ -= static_cast<uint32_t>(last - first);
  if (size_ <= 1) {
    if (size_ == 1) inline_ = heap_[0];
    std::free(heap_);
    heap_ = nullptr;
    capacity_ = 0;
  }
}

size_t AddToSessions(SessionList* sessions, int64_t time_ms, int64_t gap_ms, uint32_t new_group,
                     std::vector<Session>* absorbed) {
  const int64_t end_ms = SaturatingAdd(time_ms, gap_ms);
  // Sessions are disjoint and sorted, so their ends are sorted too: the first candidate is the
  // first session that does not end before the row.
  Session* all = sessions->begin();
  const size_t size = sessions->size();
  size_t first = static_cast<size_t>(
      std::lower_bound(all, all + size, time_ms,
                       [](const Session& s, int64_t t) { return s.end_ms < t; }) -
      all);
  size_t last = first;
  while (last < size && all[last].start_ms <= end_ms) ++last;
  if (first == last) {
    sessions->Insert(first, Session{time_ms, end_ms, new_group});
    return first;
  }
  Session& survivor = all[first];
  survivor.start_ms = std::min(survivor.start_ms, time_ms);
  survivor.end_ms = std::max(all[last - 1].end_ms, end_ms);
  absorbed->insert(absorbed->end(), all + first + 1, all + last);
  sessions->Erase(first + 1, last);
  return first;
}

}  // namespace millstream
