// Session windows of one key: a row at t opens [t, t + gap); sessions that overlap or touch
// merge (Flink's TimeWindow.intersects is inclusive), so a session is [first row's time, last
// row's time + gap) and rows exactly `gap` apart share a session. Out-of-order rows can bridge
// two sessions into one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace millstream {

struct Session {
  int64_t start_ms;
  int64_t end_ms;
  uint32_t group;  // the session's accumulator row
};

// Adds a row at `time_ms` to `sessions` (sorted by start; disjoint and not touching) and returns
// the index of the session that holds it now. A new session gets `new_group`. When the row
// bridges sessions, the first of them survives (keeping its group) and the others are moved to
// *absorbed: their accumulators must be merged into the survivor's.
size_t AddToSessions(std::vector<Session>* sessions, int64_t time_ms, int64_t gap_ms,
                     uint32_t new_group, std::vector<Session>* absorbed);

}  // namespace millstream
