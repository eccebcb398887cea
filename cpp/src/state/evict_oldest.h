// Which hot state goes to the backend when a keyed operator passes its hot-state budget: the least
// recently touched entries, oldest first, until the state is back under its target.
//
//   std::vector<AgeEntry> ages = ...;                 // (last batch touched, id) of each live entry
//   EvictOldest(&ages, [&] { return HotBytes() > target; }, [&](uint32_t id) { Spill(id); });
//
// A full sort cost O(n log n) per spill with millions of live keys (the running aggregation with
// 10 M keys spills every few batches); here each round moves the oldest quarter of what is left
// to the front with nth_element (O(n)) and sorts only that quarter.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace millstream {

using AgeEntry = std::pair<uint32_t, uint32_t>;  // (last batch touched, entry id)

template <typename OverTarget, typename Evict>
void EvictOldest(std::vector<AgeEntry>* ages, OverTarget&& over_target, Evict&& evict) {
  auto begin = ages->begin();
  while (begin != ages->end() && over_target()) {
    const auto remaining = ages->end() - begin;
    auto end = begin + std::max<std::ptrdiff_t>(1, remaining / 4);
    if (end != ages->end()) std::nth_element(begin, end, ages->end());
    std::sort(begin, end);
    for (; begin != end; ++begin) {
      if (!over_target()) return;
      evict(begin->second);
    }
  }
}

}  // namespace millstream
