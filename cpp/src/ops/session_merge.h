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

// A key's sessions, sorted by start: one inline (most keys have one open session), more on
// the heap. All zero bytes is an empty list and the type is trivially copyable, so it can live
// in a KeyTable payload; an emptied list holds no heap memory.
class SessionList {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Session* begin() { return size_ <= 1 ? &inline_ : heap_; }
  Session* end() { return begin() + size_; }
  const Session* begin() const { return size_ <= 1 ? &inline_ : heap_; }
  const Session* end() const { return begin() + size_; }
  Session& operator[](size_t i) { return begin()[i]; }
  void Insert(size_t index, const Session& session);
  void Erase(size_t first, size_t last);  // [first, last)
  void Clear() { Erase(0, size_); }

 private:
  Session inline_;
  Session* heap_;  // every session when there are two or more
  uint32_t size_;
  uint32_t capacity_;
};

// Adds a row at `time_ms` to `sessions` (sorted by start; disjoint and not touching) and returns
// the index of the session that holds it now. A new session gets `new_group`. When the row
// bridges sessions, the first of them survives (keeping its group) and the others are moved to
// *absorbed: their accumulators must be merged into the survivor's.
size_t AddToSessions(SessionList* sessions, int64_t time_ms, int64_t gap_ms, uint32_t new_group,
                     std::vector<Session>* absorbed);

}  // namespace millstream
