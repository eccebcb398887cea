#include "ops/session_merge.h"

#include <algorithm>

#include "ops/window_assigner.h"

namespace millstream {

size_t AddToSessions(std::vector<Session>* sessions, int64_t time_ms, int64_t gap_ms,
                     uint32_t new_group, std::vector<Session>* absorbed) {
  const int64_t end_ms = SaturatingAdd(time_ms, gap_ms);
  // Sessions are disjoint and sorted, so their ends are sorted too: the first candidate is the
  // first session that does not end before the row.
  auto first = std::lower_bound(sessions->begin(), sessions->end(), time_ms,
                                [](const Session& s, int64_t t) { return s.end_ms < t; });
  auto last = first;
  while (last != sessions->end() && last->start_ms <= end_ms) ++last;
  if (first == last) {
    auto inserted = sessions->insert(first, Session{time_ms, end_ms, new_group});
    return static_cast<size_t>(inserted - sessions->begin());
  }
  first->start_ms = std::min(first->start_ms, time_ms);
  first->end_ms = std::max((last - 1)->end_ms, end_ms);
  absorbed->insert(absorbed->end(), first + 1, last);
  size_t index = static_cast<size_t>(first - sessions->begin());
  sessions->erase(first + 1, last);
  return index;
}

}  // namespace millstream
