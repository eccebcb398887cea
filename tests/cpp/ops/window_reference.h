// A brute-force model of keyed event-time windows, independent of the operator's machinery:
// every window keeps the indices of its rows and aggregates are recomputed from the rows at each
// emission. No panes, no accumulators, no merging of partial states, no timers, no spilling.
// Semantics (the brief, DESIGN.md, Flink): windows [start, end); a window fires when the
// watermark reaches its end; a row is late when all its windows' end + lateness <= watermark;
// a row for a fired window within lateness re-emits it (is_update = it had rows before);
// sessions merge when they overlap or touch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "keyed_operator_harness.h"

namespace millstream::testing {

// The test input: an int64 key (nullable), event time, a float64 value (nullable).
struct InputRows {
  std::vector<std::optional<int64_t>> keys;
  std::vector<int64_t> times_ms;
  std::vector<std::optional<double>> values;
  int64_t size() const { return static_cast<int64_t>(times_ms.size()); }
};

// Cells of count(), count(v), sum(v), min(v), max(v), mean(v), first(v), last(v) over `rows`.
inline std::vector<Cell> ReferenceAggregates(const InputRows& in, const std::vector<int64_t>& rows) {
  auto real = [](double v) { Cell c; c.is_double = true; c.real = v; return c; };
  auto integer = [](int64_t v) { Cell c; c.integer = v; return c; };
  Cell null; null.null = true;
  int64_t non_null = 0;
  double sum = 0, lo = 0, hi = 0;
  int64_t first = -1, last = -1;  // row indices: by time, then by value (smallest / largest)
  for (int64_t r : rows) {
    if (!in.values[r]) continue;
    double v = *in.values[r];
    sum += v;
    lo = non_null ? std::min(lo, v) : v;
    hi = non_null ? std::max(hi, v) : v;
    auto earlier = [&](int64_t a, int64_t b) {  // (time, value) of row a < that of row b
      return std::pair(in.times_ms[a], *in.values[a]) < std::pair(in.times_ms[b], *in.values[b]);
    };
    if (first < 0 || earlier(r, first)) first = r;
    if (last < 0 || earlier(last, r)) last = r;
    ++non_null;
  }
  std::vector<Cell> cells = {integer(static_cast<int64_t>(rows.size())), integer(non_null)};
  if (non_null == 0) {
    for (int i = 0; i < 6; ++i) cells.push_back(null);
  } else {
    cells.push_back(real(sum));
    cells.push_back(real(lo));
    cells.push_back(real(hi));
    cells.push_back(real(sum / static_cast<double>(non_null)));
    cells.push_back(real(*in.values[first]));
    cells.push_back(real(*in.values[last]));
  }
  return cells;
}

inline Cell KeyCell(const std::optional<int64_t>& key) {
  Cell c;
  c.null = !key.has_value();
  c.integer = key.value_or(0);
  return c;
}

inline Row ResultRow(const std::optional<int64_t>& key, int64_t start, int64_t end,
                     std::vector<Cell> aggregates, bool with_update, bool is_update) {
  Row row = {KeyCell(key)};
  Cell s; s.integer = start; row.push_back(s);
  Cell e; e.integer = end; row.push_back(e);
  row.insert(row.end(), aggregates.begin(), aggregates.end());
  if (with_update) { Cell u; u.integer = is_update; row.push_back(u); }
  return row;
}

struct ReferenceResult {
  std::vector<Row> output;
  std::vector<int64_t> late_rows;
};

// Plays `steps` in order: advance(watermark_ms) at a watermark, add_row(row) for each row of a
// batch; at the end the watermark goes to INT64_MAX, which fires every window still open.
template <typename Advance, typename AddRow>
void Replay(const std::vector<Step>& steps, Advance&& advance, AddRow&& add_row) {
  for (const Step& step : steps) {
    if (step.is_watermark) {
      advance(step.watermark_ms);
      continue;
    }
    for (int64_t r = step.offset; r < step.offset + step.length; ++r) add_row(r);
  }
  advance(INT64_MAX);
}

// Tumbling (slide == size) and sliding windows.
inline ReferenceResult ReferenceSlices(const InputRows& in, const std::vector<Step>& steps,
                                       int64_t size, int64_t slide, int64_t offset,
                                       int64_t lateness) {
  ReferenceResult result;
  using WindowKey = std::pair<std::optional<int64_t>, int64_t>;  // (key, end)
  std::map<WindowKey, std::vector<int64_t>> windows;
  int64_t watermark = INT64_MIN;
  auto floor_div = [](int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); };
  auto advance = [&](int64_t to) {
    if (to <= watermark) return;
    std::vector<std::pair<int64_t, WindowKey>> due;  // fire in end order
    for (auto& [wk, rows] : windows) {
      if (wk.second > watermark && wk.second <= to) due.push_back({wk.second, wk});
    }
    std::sort(due.begin(), due.end());
    for (auto& [end, wk] : due) {
      result.output.push_back(ResultRow(wk.first, end - size, end,
                                        ReferenceAggregates(in, windows[wk]), lateness > 0, false));
    }
    for (auto it = windows.begin(); it != windows.end();) {
      bool expired = to - lateness >= it->first.second;  // end + lateness <= to
      it = expired ? windows.erase(it) : std::next(it);
    }
    watermark = to;
  };
  Replay(steps, advance, [&](int64_t r) {
    const int64_t t = in.times_ms[r];
    std::vector<int64_t> ends;  // every window [s, s + size) holding t, s = offset + k * slide
    int64_t k0 = floor_div(t - offset, slide);
    for (int64_t k = k0 - size / slide - 2; k <= k0 + 1; ++k) {
      int64_t s = offset + k * slide;
      if (s <= t && t < s + size) ends.push_back(s + size);
    }
    bool all_late = true;
    for (int64_t end : ends) all_late = all_late && (watermark != INT64_MIN && end + lateness <= watermark);
    if (all_late) {
      result.late_rows.push_back(r);
      return;
    }
    for (int64_t end : ends) {
      if (watermark != INT64_MIN && end + lateness <= watermark) continue;
      auto& rows = windows[{in.keys[r], end}];
      bool had_rows = !rows.empty();
      rows.push_back(r);
      if (watermark != INT64_MIN && end <= watermark) {
        result.output.push_back(ResultRow(in.keys[r], end - size, end,
                                          ReferenceAggregates(in, rows), true, had_rows));
      }
    }
  });
  return result;
}

inline ReferenceResult ReferenceSessions(const InputRows& in, const std::vector<Step>& steps,
                                         int64_t gap, int64_t lateness) {
  struct SimSession {
    int64_t start, end;
    std::vector<int64_t> rows;
    bool emitted = false;
  };
  ReferenceResult result;
  std::map<std::optional<int64_t>, std::vector<SimSession>> sessions;
  int64_t watermark = INT64_MIN;
  auto passed = [&](int64_t time) { return watermark != INT64_MIN && time <= watermark; };
  auto advance = [&](int64_t to) {
    if (to <= watermark) return;
    std::vector<std::tuple<int64_t, int64_t, std::optional<int64_t>, SimSession*>> due;
    for (auto& [key, list] : sessions) {
      for (SimSession& s : list) {
        if (s.end > watermark && s.end <= to) due.push_back({s.end, *std::min_element(s.rows.begin(), s.rows.end()), key, &s});
      }
    }
    std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
      return std::make_pair(std::get<0>(a), std::get<1>(a)) < std::make_pair(std::get<0>(b), std::get<1>(b));
    });
    for (auto& [end, first, key, s] : due) {
      result.output.push_back(ResultRow(key, s->start, s->end, ReferenceAggregates(in, s->rows),
                                        lateness > 0, s->emitted));
      s->emitted = true;
    }
    for (auto& [key, list] : sessions) {
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const SimSession& s) { return s.end + lateness <= to; }),
                 list.end());
    }
    watermark = to;
  };
  Replay(steps, advance, [&](int64_t r) {
    const int64_t t = in.times_ms[r];
    SimSession merged{t, t + gap, {r}, false};
    auto& list = sessions[in.keys[r]];
    bool overlapped = false;
    for (auto it = list.begin(); it != list.end();) {
      if (it->start <= merged.end && merged.start <= it->end) {
        overlapped = true;
        merged.start = std::min(merged.start, it->start);
        merged.end = std::max(merged.end, it->end);
        merged.rows.insert(merged.rows.end(), it->rows.begin(), it->rows.end());
        merged.emitted = merged.emitted || it->emitted;
        it = list.erase(it);
      } else {
        ++it;
      }
    }
    if (!overlapped && passed(merged.end + lateness)) {
      result.late_rows.push_back(r);
      return;
    }
    std::sort(merged.rows.begin(), merged.rows.end());
    if (passed(merged.end)) {
      result.output.push_back(ResultRow(in.keys[r], merged.start, merged.end,
                                        ReferenceAggregates(in, merged.rows), true,
                                        merged.emitted));
      merged.emitted = true;
    }
    list.push_back(std::move(merged));
  });
  return result;
}

}  // namespace millstream::testing
