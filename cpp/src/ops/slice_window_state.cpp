// Tumbling and sliding windows of one subtask. Rows are aggregated once, into the pane that
// holds them (a tumbling window is its own single pane); a window firing combines its panes in
// time order. Hot groups (key slot, pane end) live in an open-addressing table; beyond the
// hot-state budget the least recently touched ones are written to the state backend
// ("window_acc" [key_group][key][pane end], "window_timer" [key_group][pane end][key]) and
// read back when their key sees a row again, when their window fires, or when they expire
// (ops/spilled_panes.h).
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "ops/aggregation_plan.h"
#include "state/evict_oldest.h"
#include "ops/key_table.h"
#include "ops/probe_table.h"
#include "ops/spilled_panes.h"
#include "ops/window_result.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

constexpr uint32_t kNone = 0xffffffffu;

struct GroupEntry {
  int64_t pane_end = 0;
  uint32_t slot = kNone;
  uint32_t group = kNone;
  bool empty() const { return group == kNone; }
};

inline uint64_t HashGroup(uint32_t slot, int64_t pane_end) {
  return MixHash(static_cast<uint64_t>(pane_end) * 0x9e3779b97f4a7c15ull ^ slot);
}

// A hot group of a pane, with its key slot (firing and cleanup need both, in pane order).
struct PaneMember {
  uint32_t group;
  uint32_t slot;
};

// The hot groups of one pane end, in creation order (which is first-row order unless groups
// came back from the backend: then `sorted` is false and firing sorts them). Groups written
// to the backend leave a kNone group behind.
struct PaneGroups {
  std::vector<PaneMember> members;
  bool sorted = true;
};

// The hot groups of one key slot (a KeyTable payload, zeroed for a new key): the newest few
// inline, next to the key (rows go to the newest panes), any older ones in the group table.
// Tumbling windows keep 3 inline (key and groups in one cache line); sliding windows keep as
// many as a key has live panes, up to 8 (two lines), so that the table is rarely used.
// Layout: [table_newest i64][pane_end i64 x n][group + 1 u32 x n][in_table u32].
class SlotGroups {
 public:
  static size_t Bytes(int inline_count) { return 12 + 12 * static_cast<size_t>(inline_count); }
  SlotGroups(uint8_t* bytes, int inline_count) : bytes_(bytes), n_(inline_count) {}
  int size() const { return n_; }
  // No pane in the table ends later (an upper bound).
  int64_t& table_newest() { return *reinterpret_cast<int64_t*>(bytes_); }
  int64_t& pane_end(int i) { return reinterpret_cast<int64_t*>(bytes_ + 8)[i]; }
  uint32_t& group_plus_one(int i) { return reinterpret_cast<uint32_t*>(bytes_ + 8 + 8 * n_)[i]; }  // 0: none
  uint32_t& in_table() { return *reinterpret_cast<uint32_t*>(bytes_ + 8 + 12 * n_); }

 private:
  uint8_t* bytes_;
  int n_;
};

struct SlotGroupsBytes {  // the payload type: raw bytes behind SlotGroups
  uint8_t first;
};

// What the operator keeps per hot group besides its accumulator row (read when writing it back).
struct GroupMeta {
  int64_t pane_end;
  uint32_t slot;
  uint32_t position : 31;  // index in its PaneGroups
  uint32_t in_backend : 1;  // read back from the backend, which still holds a (stale) copy
};

class SliceWindowState final : public WindowState {
 public:
  SliceWindowState(const AggregationPlan& plan, SubtaskContext context)
      : WindowState(plan),
        slices_(*plan.slices),
        layout_(*plan.layout),
        context_(std::move(context)),
        backend_(*context_.state),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        spilled_(backend_),
        inline_groups_(slices_.panes_per_window() == 1
                           ? 3
                           : static_cast<int>(std::min<int64_t>(8, slices_.panes_per_window() + 3))),
        keys_(*plan.input_schema, plan.key_columns, SlotGroups::Bytes(inline_groups_)),
        groups_(layout_),
        results_(plan.output_schema, keys_, layout_, plan.event_time.get(),
                 plan.allowed_lateness_ms > 0),
        tumbling_(slices_.panes_per_window() == 1) {}

  ~SliceWindowState() override {
    metrics_->state_entries -=
        static_cast<int64_t>(groups_.live()) + spilled_.total() - hot_in_backend_;
  }

 private:
  void StartBatch(const arrow::RecordBatch& rows, const std::vector<uint16_t>& key_groups) override {
    ++batch_number_;
    RowTimes(rows, &times_);
    keys_.Lookup(rows, key_groups, &slots_);
    group_of_row_.resize(rows.num_rows());
    inputs_ = AggregateInputs(plan_, rows);
  }
  void EndBatch(int64_t rows) override { next_seq_ += rows; }
  OperatorMetrics* late_metrics() override { return metrics_; }

  // Adds rows [begin, end) of the current batch by the watermark in force now.
  void AddRows(int64_t begin, int64_t end) override {
    if (begin == end) return;
    late_updates_.clear();
    const int64_t watermark_ms = watermark_ms_;
    const int64_t lateness_ms = plan_.allowed_lateness_ms;
    // Windows ending at or before this have closed: a row's contribution to them is dropped.
    const int64_t closed_to_ms = SaturatingSubtract(watermark_ms, lateness_ms);
    constexpr int64_t kAhead = 8;
    for (int64_t i = begin; i < end; ++i) {
      if (i + kAhead < end) keys_.PrefetchSlot(slots_[i + kAhead]);
      const int64_t pane_end = slices_.PaneEnd(times_[i]);
      const int64_t last_end = tumbling_ ? pane_end : slices_.LastWindowEnd(pane_end);
      group_of_row_[i] = kNoGroup;
      if (SaturatingAdd(last_end, lateness_ms) <= watermark_ms) {
        late_rows_.push_back(i);
        continue;
      }
      const int64_t first_end = FirstWindowEnd(pane_end);
      if (!tumbling_ && first_end <= closed_to_ms) {  // late for some of its sliding windows
        metrics_->window_contributions_dropped += (closed_to_ms - first_end) / slices_.slide_ms() + 1;
      }
      if (lateness_ms > 0 && first_end <= watermark_ms) {
        late_updates_.push_back(i);  // a fired window, still within lateness, gets this row
        continue;
      }
      group_of_row_[i] = GroupFor(slots_[i], pane_end, next_seq_ + i);
    }
    // The rows of the groups, fetched ahead: the aggregates below then find them in cache.
    for (int64_t i = begin; i < end; ++i) {
      if (i + kAhead < end && group_of_row_[i + kAhead] != kNoGroup) {
        __builtin_prefetch(groups_.row(group_of_row_[i + kAhead]));
      }
      if (group_of_row_[i] == kNoGroup) continue;
      GroupHeader* header = groups_.header(group_of_row_[i]);
      ++header->rows;
      header->touched = batch_number_;
    }
    UpdateRows update{group_of_row_.data(), begin, end, times_.data(), next_seq_, &heap_bytes_};
    for (size_t a = 0; a < layout_.size(); ++a) {
      layout_.function(a).Update(inputs_[a], update, groups_.states(a));
    }
    for (int64_t row : late_updates_) LateUpdate(row);
  }

  void Flush(Emitter& out) override { results_.Flush(out); }

  int64_t FirstWindowEnd(int64_t pane_end) const {
    return tumbling_ ? pane_end : slices_.FirstWindowEndAfter(pane_end - slices_.pane_ms());
  }

  // ---- groups ---------------------------------------------------------------------------

  uint32_t FindGroup(uint32_t slot, int64_t pane_end) {
    SlotGroups mine = GroupsOf(slot);
    for (int i = 0; i < mine.size(); ++i) {
      if (mine.group_plus_one(i) != 0 && mine.pane_end(i) == pane_end) return mine.group_plus_one(i) - 1;
    }
    if (mine.in_table() == 0 || pane_end > mine.table_newest()) return kNone;
    GroupEntry* entry = table_.Find(HashGroup(slot, pane_end), [&](const GroupEntry& e) {
      return e.slot == slot && e.pane_end == pane_end;
    });
    return entry ? entry->group : kNone;
  }

  // The hot group of (slot, pane_end): found, read back from the backend, or new.
  uint32_t GroupFor(uint32_t slot, int64_t pane_end, int64_t seq) {
    uint32_t found = FindGroup(slot, pane_end);
    if (found != kNone) return found;
    uint32_t group = groups_.Allocate();
    SlotGroups mine = GroupsOf(slot);
    // A free inline place, else the oldest inline pane moves to the table when this one is
    // newer (rows go to the newest panes), else this one goes there.
    int place = -1;
    for (int i = 0; i < mine.size(); ++i) {
      if (mine.group_plus_one(i) == 0) {
        place = i;
        break;
      }
      if (place < 0 || mine.pane_end(i) < mine.pane_end(place)) place = i;
    }
    if (mine.group_plus_one(place) != 0 && mine.pane_end(place) < pane_end) {
      InsertIntoTable(&mine, slot, mine.pane_end(place), mine.group_plus_one(place) - 1);
      mine.group_plus_one(place) = 0;
    }
    if (mine.group_plus_one(place) == 0) {
      mine.group_plus_one(place) = group + 1;
      mine.pane_end(place) = pane_end;
    } else {
      InsertIntoTable(&mine, slot, pane_end, group);
    }
    if (meta_.size() < groups_.capacity()) meta_.resize(groups_.capacity());
    keys_.Retain(slot);
    bool loaded = LoadSpilled(slot, pane_end, group);
    if (!loaded) {
      groups_.header(group)->first_seq = seq;
      ++metrics_->state_entries;
    }
    groups_.header(group)->touched = batch_number_;
    PaneGroups& pane = PaneOf(pane_end);
    pane.sorted = pane.sorted && (!loaded || pane.members.empty());
    meta_[group] = GroupMeta{pane_end, slot, static_cast<uint32_t>(pane.members.size()), loaded};
    hot_in_backend_ += loaded;
    pane.members.push_back(PaneMember{group, slot});
    return group;
  }

  SlotGroups GroupsOf(uint32_t slot) {
    return SlotGroups(&keys_.payload<SlotGroupsBytes>(slot).first, inline_groups_);
  }

  void InsertIntoTable(SlotGroups* mine, uint32_t slot, int64_t pane_end, uint32_t group) {
    mine->table_newest() = mine->in_table()++ == 0 ? pane_end : std::max(mine->table_newest(), pane_end);
    auto [entry, inserted] = table_.FindOrInsert(
        HashGroup(slot, pane_end),
        [&](const GroupEntry& e) { return e.slot == slot && e.pane_end == pane_end; },
        [](const GroupEntry& e) { return HashGroup(e.slot, e.pane_end); });
    MS_CHECK(inserted, "group table out of step with the key's inline groups");
    *entry = GroupEntry{pane_end, slot, group};
  }

  // Panes come and go in time order: the newest is usually the one asked for.
  PaneGroups& PaneOf(int64_t pane_end) {
    if (!panes_.empty() && panes_.rbegin()->first == pane_end) return panes_.rbegin()->second;
    return panes_[pane_end];
  }

  // Drops a hot group (its place in the pane is the caller's business).
  void FreeGroup(uint32_t group, uint32_t slot, int64_t pane_end) {
    SlotGroups mine = GroupsOf(slot);
    bool inline_group = false;
    for (int i = 0; i < mine.size(); ++i) {
      if (mine.group_plus_one(i) == group + 1) {
        mine.group_plus_one(i) = 0;
        inline_group = true;
      }
    }
    if (!inline_group) {
      GroupEntry* entry = table_.Find(HashGroup(slot, pane_end), [&](const GroupEntry& e) {
        return e.group == group;
      });
      MS_CHECK(entry != nullptr, "live group missing from the group table");
      table_.Erase(entry, [](const GroupEntry& e) { return HashGroup(e.slot, e.pane_end); });
      --mine.in_table();
    }
    keys_.Release(slot);
    groups_.Free(group, &heap_bytes_);
  }

  // A row for a pane with fired windows still within lateness: add it, then emit every such
  // window again with its new value (one emission per row, as Flink's trigger fires per
  // element, so the output does not depend on batch boundaries).
  void LateUpdate(int64_t row) {
    const uint32_t slot = slots_[row];
    const int64_t pane_end = slices_.PaneEnd(times_[row]);
    uint32_t group = GroupFor(slot, pane_end, next_seq_ + row);
    ++groups_.header(group)->rows;
    groups_.header(group)->touched = batch_number_;
    group_of_row_[row] = group;
    UpdateRows update{group_of_row_.data(), row, row + 1, times_.data(), next_seq_, &heap_bytes_};
    for (size_t a = 0; a < layout_.size(); ++a) {
      layout_.function(a).Update(inputs_[a], update, groups_.states(a));
    }
    group_of_row_[row] = kNoGroup;
    const int64_t last_end = std::min(slices_.LastWindowEnd(pane_end), watermark_ms_);
    for (int64_t end = FirstWindowEnd(pane_end); end <= last_end; end += slices_.slide_ms()) {
      if (SaturatingAdd(end, plan_.allowed_lateness_ms) <= watermark_ms_) continue;
      if (tumbling_) {
        const uint8_t* state = groups_.row(group);
        results_.AppendSlot(slot, end - slices_.size_ms(), end, state,
                            AccumulatorLayout::header(state)->rows > 1);
        continue;
      }
      uint8_t* window = Scratch(0);
      layout_.Init(window);
      for (int64_t pane = end - slices_.size_ms() + slices_.pane_ms(); pane <= end;
           pane += slices_.pane_ms()) {
        uint32_t part = FindGroup(slot, pane);
        if (part == kNone && InBackend(slot, pane)) part = GroupFor(slot, pane, next_seq_ + row);
        if (part != kNone) layout_.Merge(Scratch(0), groups_.row(part), &heap_bytes_);
      }
      window = Scratch(0);
      results_.AppendSlot(slot, end - slices_.size_ms(), end, window,
                          AccumulatorLayout::header(window)->rows > 1);
      layout_.Destroy(window, &heap_bytes_);
    }
  }

  // ---- time -------------------------------------------------------------------------------

  void Advance(int64_t watermark_ms) override {
    if (watermark_ms <= watermark_ms_) return;
    watermark_ms_ = watermark_ms;
    Fire();
    Cleanup();
  }

  // Emits every window ending in (fired_to_ms_, watermark_ms_] that holds a row.
  void Fire() {
    const int64_t from_ms = fired_to_ms_;
    const int64_t to_ms = watermark_ms_;
    fired_to_ms_ = to_ms;
    std::set<int64_t> ends;
    auto collect = [&](int64_t pane_end) {
      int64_t first = std::max(FirstWindowEnd(pane_end),
                               from_ms == kMinWatermarkMs ? kMinWatermarkMs
                                                          : slices_.WindowEndAtOrAfter(from_ms + 1));
      int64_t last = std::min(tumbling_ ? pane_end : slices_.LastWindowEnd(pane_end), to_ms);
      for (int64_t end = first; end <= last; end += slices_.slide_ms()) ends.insert(end);
    };
    const int64_t lowest = SaturatingAdd(from_ms, slices_.pane_ms() - slices_.size_ms());
    for (auto it = panes_.lower_bound(lowest); it != panes_.end() && it->first <= to_ms; ++it) {
      collect(it->first);
    }
    for (auto it = spilled_.lower_bound(lowest); it != spilled_.end() && it->first <= to_ms; ++it) {
      collect(it->first);
    }
    for (int64_t end : ends) FireWindow(end);
    ReleaseParked(INT64_MAX);
  }

  // One part of a window: a hot group or a group read from the backend (parked).
  struct Part {
    int64_t first_seq;
    uint32_t slot;
    uint32_t group;                    // kNone: parked
    const uint8_t* parked = nullptr;   // the row of a parked group (in a ParkedPane)
  };

  // The groups of a pane read back from the backend to fire its windows, kept while windows of
  // the same Fire() still need them: a pane of sliding windows is read once, not once a window.
  struct ParkedPane {
    std::vector<Part> parts;  // in the backend's order
    std::vector<uint64_t> rows;
  };

  const ParkedPane& Park(int64_t pane_end) {
    auto [found, inserted] = parked_panes_.try_emplace(pane_end);
    ParkedPane& pane = found->second;
    if (!inserted) return pane;
    spilled_.ForEach(pane_end, [&](uint16_t key_group, std::string_view key, std::string_view value) {
      uint32_t slot = keys_.LookupEncoded(key, key_group);
      if (FindGroup(slot, pane_end) != kNone) return;  // hot: the copy there is stale
      uint8_t* row = Rows(&pane.rows, pane.parts.size());
      layout_.Init(row);
      layout_.Deserialize(value, row, &heap_bytes_);
      pane.parts.push_back(Part{AccumulatorLayout::header(row)->first_seq, slot, kNone});
    });
    for (size_t i = 0; i < pane.parts.size(); ++i) pane.parts[i].parked = Rows(&pane.rows, i);
    return pane;
  }

  // Drops the parked panes ending at or before `pane_end`.
  void ReleaseParked(int64_t pane_end) {
    while (!parked_panes_.empty() && parked_panes_.begin()->first <= pane_end) {
      ParkedPane& pane = parked_panes_.begin()->second;
      for (size_t i = 0; i < pane.parts.size(); ++i) layout_.Destroy(Rows(&pane.rows, i), &heap_bytes_);
      parked_panes_.erase(parked_panes_.begin());
    }
  }

  // The parts of one pane, in first-row order.
  void CollectPane(int64_t pane_end, std::vector<Part>* parts) {
    parts->clear();
    bool sorted = true;
    auto pane = panes_.find(pane_end);
    if (pane != panes_.end()) {
      for (const PaneMember& member : pane->second.members) {
        if (member.group != kNone) parts->push_back(Part{0, member.slot, member.group});
      }
      sorted = pane->second.sorted;
    }
    if (spilled_.Has(pane_end)) {
      const ParkedPane& parked = Park(pane_end);
      parts->insert(parts->end(), parked.parts.begin(), parked.parts.end());
      sorted = false;
    }
    if (!sorted) {
      for (Part& part : *parts) {
        if (part.group != kNone) part.first_seq = groups_.header(part.group)->first_seq;
      }
      std::sort(parts->begin(), parts->end(),
                [](const Part& a, const Part& b) { return a.first_seq < b.first_seq; });
    }
  }

  void Prefetch(const Part& part) {
    if (part.group != kNone) __builtin_prefetch(groups_.row(part.group));
    keys_.PrefetchSlot(part.slot);
  }

  const uint8_t* PartRow(const Part& part) {
    return part.group != kNone ? groups_.row(part.group) : part.parked;
  }

  void FireWindow(int64_t end_ms) {
    const int64_t start_ms = end_ms - slices_.size_ms();
    if (tumbling_) {
      CollectPane(end_ms, &parts_);
      constexpr size_t kAhead = 12;
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (i + kAhead < parts_.size()) Prefetch(parts_[i + kAhead]);
        const Part& part = parts_[i];
        results_.AppendSlot(part.slot, start_ms, end_ms, PartRow(part), false);
      }
      ReleaseParked(end_ms);
      return;
    }
    // Combine the panes per key in time order; keys come out in the order they first appear.
    if (slot_window_.size() < keys_.slot_capacity()) slot_window_.resize(keys_.slot_capacity(), kNone);
    window_slots_.clear();
    for (int64_t pane = start_ms + slices_.pane_ms(); pane <= end_ms; pane += slices_.pane_ms()) {
      CollectPane(pane, &parts_);
      if (slot_window_.size() < keys_.slot_capacity()) slot_window_.resize(keys_.slot_capacity(), kNone);
      constexpr size_t kAhead = 16;
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (i + kAhead < parts_.size()) {
          const Part& ahead = parts_[i + kAhead];
          if (ahead.group != kNone) __builtin_prefetch(groups_.row(ahead.group));
          __builtin_prefetch(&slot_window_[ahead.slot]);
        }
        if (i + kAhead / 2 < parts_.size()) {  // its window row, once the index is in cache
          uint32_t ahead_index = slot_window_[parts_[i + kAhead / 2].slot];
          if (ahead_index != kNone) __builtin_prefetch(Scratch(ahead_index));
        }
        const Part& part = parts_[i];
        uint32_t& index = slot_window_[part.slot];
        if (index == kNone) {
          index = static_cast<uint32_t>(window_slots_.size());
          window_slots_.push_back(part.slot);
          if (!layout_.owns_heap()) {  // plain bytes: the first part is copied, not merged
            std::memcpy(Scratch(index), PartRow(part), layout_.row_bytes());
            continue;
          }
          layout_.Init(Scratch(index));
        }
        layout_.Merge(Scratch(index), PartRow(part), &heap_bytes_);
      }
    }
    // Later windows start after this one's next (end + slide): its earlier panes are done.
    ReleaseParked(end_ms + slices_.slide_ms() - slices_.size_ms());
    for (size_t i = 0; i < window_slots_.size(); ++i) {
      if (i + 16 < window_slots_.size()) keys_.PrefetchSlot(window_slots_[i + 16]);
      uint8_t* window = Scratch(i);
      results_.AppendSlot(window_slots_[i], start_ms, end_ms, window, false);
      layout_.Destroy(window, &heap_bytes_);
      slot_window_[window_slots_[i]] = kNone;
    }
  }

  // Drops panes whose last window is past the allowed lateness.
  void Cleanup() {
    auto expired = [&](int64_t pane_end) {
      int64_t last_end = tumbling_ ? pane_end : slices_.LastWindowEnd(pane_end);
      return SaturatingAdd(last_end, plan_.allowed_lateness_ms) <= watermark_ms_;
    };
    while (!panes_.empty() && expired(panes_.begin()->first)) {
      int64_t freed = 0;
      const int64_t pane_end = panes_.begin()->first;
      const auto& members = panes_.begin()->second.members;
      constexpr size_t kAhead = 12;
      for (size_t i = 0; i < members.size(); ++i) {
        if (i + kAhead < members.size() && members[i + kAhead].group != kNone) {
          keys_.PrefetchSlot(members[i + kAhead].slot);
          groups_.PrefetchInUse(members[i + kAhead].group);
          if (hot_in_backend_ > 0) __builtin_prefetch(&meta_[members[i + kAhead].group]);
        }
        if (members[i].group == kNone) continue;
        // (meta_ is read only when some hot group has a copy in the backend: a cache miss a
        // group, 20% of sliding windows' time in memory.)
        if (hot_in_backend_ > 0 && meta_[members[i].group].in_backend) {
          --hot_in_backend_;  // counted with the pane's groups in the backend, dropped below
        } else {
          ++freed;
        }
        FreeGroup(members[i].group, members[i].slot, pane_end);
      }
      metrics_->state_entries -= freed;
      panes_.erase(panes_.begin());
    }
    while (!spilled_.empty() && expired(spilled_.earliest())) {
      metrics_->state_entries -= spilled_.Drop(spilled_.earliest());
    }
  }

  // ---- the state backend ------------------------------------------------------------------

  // Whether the group (slot, pane_end) is in the backend (its row then in value_scratch_).
  bool InBackend(uint32_t slot, int64_t pane_end) {
    if (!spilled_.Has(pane_end)) return false;
    key_scratch_.clear();
    keys_.AppendEncoded(slot, &key_scratch_);
    ++metrics_->state_reads;
    return spilled_.Get(keys_.key_group(slot), key_scratch_, pane_end, &value_scratch_);
  }

  // Reads the group (slot, pane_end) back from the backend into `group`, if it is there.
  bool LoadSpilled(uint32_t slot, int64_t pane_end, uint32_t group) {
    if (!InBackend(slot, pane_end)) return false;
    layout_.Deserialize(value_scratch_, groups_.row(group), &heap_bytes_);
    return true;
  }

  int64_t HotBytes() const {
    const int64_t per_group = static_cast<int64_t>(layout_.row_bytes() + sizeof(GroupMeta) + 4);
    return static_cast<int64_t>(groups_.live()) * per_group +
           static_cast<int64_t>(table_.memory_bytes() + keys_.memory_bytes() + spilled_.filter_bytes()) +
           heap_bytes_;
  }

  // Writes the least recently touched groups to the backend until the hot state is within
  // three quarters of its budget.
  void MaybeSpill() {
    const int64_t budget = context_.hot_state_bytes;
    if (budget < 0 || HotBytes() <= budget) return;
    std::vector<AgeEntry> by_age;  // (touched, group)
    by_age.reserve(groups_.live());
    for (uint32_t g = 0; g < groups_.capacity(); ++g) {
      if (groups_.in_use(g)) by_age.emplace_back(groups_.header(g)->touched, g);
    }
    std::set<int64_t> touched_panes;
    EvictOldest(&by_age, [&] { return HotBytes() > budget / 4 * 3; }, [&](uint32_t group) {
      const uint32_t slot = meta_[group].slot;
      const int64_t pane_end = meta_[group].pane_end;
      const uint16_t key_group = keys_.key_group(slot);
      key_scratch_.clear();
      keys_.AppendEncoded(slot, &key_scratch_);
      value_scratch_.clear();
      layout_.Serialize(groups_.row(group), &value_scratch_);
      spilled_.Put(key_group, key_scratch_, pane_end, value_scratch_, meta_[group].in_backend);
      ++metrics_->state_writes;
      hot_in_backend_ -= meta_[group].in_backend;
      touched_panes.insert(pane_end);
      panes_[pane_end].members[meta_[group].position].group = kNone;
      FreeGroup(group, slot, pane_end);
    });
    // Compact the panes that lost groups (keeping the order).
    for (int64_t pane_end : touched_panes) {
      PaneGroups& pane = panes_[pane_end];
      size_t kept = 0;
      for (const PaneMember& member : pane.members) {
        if (member.group == kNone) continue;
        meta_[member.group].position = static_cast<uint32_t>(kept);
        pane.members[kept++] = member;
      }
      pane.members.resize(kept);
      if (kept == 0) panes_.erase(pane_end);
    }
  }

  void FinishStep() override {
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, HotBytes()));
    MaybeSpill();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, HotBytes()));
    if (spilled_.TakeDirty()) backend_.Commit();
  }

  uint8_t* Scratch(size_t index) { return Rows(&scratch_rows_, index); }
  uint8_t* Rows(std::vector<uint64_t>* storage, size_t index) {
    const size_t words = layout_.row_bytes() / 8;
    if (storage->size() < (index + 1) * words) storage->resize((index + 1) * words * 2);
    return reinterpret_cast<uint8_t*>(storage->data() + index * words);
  }

  const SliceAssigner& slices_;
  const AccumulatorLayout& layout_;
  SubtaskContext context_;
  StateBackend& backend_;
  OperatorMetrics own_metrics_{"window"};
  OperatorMetrics* metrics_;
  SpilledPanes spilled_;
  const int inline_groups_;  // groups per key kept next to it (SlotGroups)
  KeyTable keys_;
  GroupRows groups_;
  ResultBuilder results_;
  const bool tumbling_;
  ProbeTable<GroupEntry> table_;

  std::vector<GroupMeta> meta_;           // per group
  std::map<int64_t, PaneGroups> panes_;   // hot groups by pane end

  int64_t watermark_ms_ = kMinWatermarkMs;
  int64_t fired_to_ms_ = kMinWatermarkMs;  // windows ending at or before have fired
  int64_t next_seq_ = 0;
  int64_t heap_bytes_ = 0;
  int64_t hot_in_backend_ = 0;  // hot groups that the backend holds a copy of
  uint32_t batch_number_ = 0;

  // Per-batch and per-firing scratch.
  std::vector<int64_t> times_;
  std::vector<uint32_t> slots_, group_of_row_;
  std::vector<int64_t> late_updates_;
  std::vector<const arrow::Array*> inputs_;
  std::vector<Part> parts_;
  std::vector<uint32_t> slot_window_, window_slots_;
  std::vector<uint64_t> scratch_rows_;
  std::map<int64_t, ParkedPane> parked_panes_;  // during Fire()
  std::string key_scratch_, value_scratch_;
};

}  // namespace

std::unique_ptr<KeyedOperatorState> MakeSliceWindowState(const AggregationPlan& plan,
                                                         SubtaskContext context) {
  return std::make_unique<SliceWindowState>(plan, std::move(context));
}

}  // namespace millstream
