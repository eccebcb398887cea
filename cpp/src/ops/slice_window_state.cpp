// Tumbling and sliding windows of one subtask. Rows are aggregated once, into the pane that
// holds them (a tumbling window is its own single pane); a window firing combines its panes in
// time order. Hot groups (key slot, pane end) live in an open-addressing table; beyond the
// hot-state budget the keyed state store (state/keyed_state_store.h) writes the least recently
// touched ones to the backend ("window_acc" [key_group][key][pane end]) with a time index
// ("window_timer" [key_group][pane end][key] -> a copy of the row: firing a pane reads its
// cold groups in one scan per key group; with the row only in "window_acc" it took a Get per
// group, and sliding windows with a 4 MB hot budget ran at 0.11 M rows/s instead of 0.19 M,
// windows_bench). A cold group comes back hot when its key sees a row for its pane again (the
// batch's cold groups in one MultiGet); firing reads it without making it hot, and it is
// deleted with its pane.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "ops/aggregation_plan.h"
#include "ops/key_table.h"
#include "ops/keyed_snapshot.h"
#include "ops/probe_table.h"
#include "ops/window_result.h"
#include "state/keyed_state_store.h"
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
  uint32_t position;  // index in its PaneGroups
};

class SliceWindowState final : public WindowState, private KeyedEntryCodec {
 public:
  SliceWindowState(const AggregationPlan& plan, SubtaskContext context)
      : WindowState(plan),
        slices_(*plan.slices),
        layout_(*plan.layout),
        context_(std::move(context)),
        metrics_(context_.metrics != nullptr ? context_.metrics : &own_metrics_),
        store_(*context_.state, "window_acc", context_.hot_state_bytes, metrics_, this),
        inline_groups_(slices_.panes_per_window() == 1
                           ? 3
                           : static_cast<int>(std::min<int64_t>(8, slices_.panes_per_window() + 3))),
        keys_(*plan.input_schema, plan.key_columns, SlotGroups::Bytes(inline_groups_)),
        groups_(layout_),
        results_(plan.output_schema, keys_, layout_, plan.event_time.get(),
                 plan.allowed_lateness_ms > 0),
        tumbling_(slices_.panes_per_window() == 1) {
    TimeIndexOptions index;
    index.column_family = "window_timer";
    index.time_in_state_key = true;
    index.copy_value = true;
    store_.UseTimeIndex(index);
    // Every group comes back cold (found by the time index when its pane fires); the windows
    // up to the restored watermark have fired.
    if (!context_.restore_from.empty()) {
      next_seq_ = RestoreKeyedState(context_, store_).counters["next_seq"];
      watermark_ms_ = fired_to_ms_ = context_.restored_watermark_ms;
    }
  }

  void Snapshot(const SnapshotTarget& target) override {
    MS_CHECK(fired_to_ms_ == watermark_ms_ && parked_panes_.empty(),
             "a window checkpoint in the middle of firing");
    SnapshotKeyedState(target, context_, store_, batch_number_, {{"next_seq", next_seq_}});
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
    LoadRequested();
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

  // The hot group of (slot, pane_end): found, or new. A new group that may be in the backend is
  // queued to be read back, by LoadRequested(), before its row is used.
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
    groups_.header(group)->first_seq = seq;
    groups_.header(group)->touched = batch_number_;
    PaneGroups& pane = PaneOf(pane_end);
    meta_[group] = GroupMeta{pane_end, slot, static_cast<uint32_t>(pane.members.size())};
    pane.members.push_back(PaneMember{group, slot});
    store_.Add(group, batch_number_);
    if (MayBeCold(slot, pane_end)) store_.RequestLoad(group, key_scratch_);
    return group;
  }

  // Whether the group (slot, pane_end) may be in the backend (its state key then in
  // key_scratch_).
  bool MayBeCold(uint32_t slot, int64_t pane_end) {
    if (store_.index_times().count(pane_end) == 0) return false;
    key_scratch_.clear();
    AppendStateKey(slot, pane_end, &key_scratch_);
    return store_.MayBeCold(key_scratch_);
  }

  // Reads the queued groups back from the backend (GroupFor) into their hot rows.
  void LoadRequested() {
    if (!store_.load_requested()) return;
    store_.LoadRequested([&](uint32_t group, std::string_view value) {
      layout_.Deserialize(value, groups_.row(group), &heap_bytes_);
      groups_.header(group)->touched = batch_number_;
      // An older group behind newer ones: firing sorts the pane by first row.
      if (meta_[group].position != 0) PaneOf(meta_[group].pane_end).sorted = false;
    });
  }

  // The group (slot, pane_end) read back from the backend, or kNone when it is not there.
  uint32_t ColdGroup(uint32_t slot, int64_t pane_end, int64_t seq) {
    if (!MayBeCold(slot, pane_end)) return kNone;
    const uint32_t group = GroupFor(slot, pane_end, seq);
    LoadRequested();
    if (store_.has_backend_copy(group)) return group;
    // Not there after all (the filter's false positive): the empty group goes again.
    PaneGroups& pane = PaneOf(pane_end);
    MS_CHECK(!pane.members.empty() && pane.members.back().group == group,
             "a new group is the last of its pane");
    pane.members.pop_back();
    if (pane.members.empty()) panes_.erase(pane_end);
    store_.Remove(group);
    FreeGroup(group, slot, pane_end);
    return kNone;
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
    LoadRequested();
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
        if (part == kNone) part = ColdGroup(slot, pane, next_seq_ + row);
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
    const std::map<int64_t, int64_t>& cold_panes = store_.index_times();
    for (auto it = cold_panes.lower_bound(lowest); it != cold_panes.end() && it->first <= to_ms; ++it) {
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
    store_.ScanIndex(pane_end, pane_end, [&](uint16_t key_group, std::string_view key, int64_t,
                                             std::string_view value) {
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
    if (store_.index_times().count(pane_end) > 0) {
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
      const int64_t pane_end = panes_.begin()->first;
      const auto& members = panes_.begin()->second.members;
      constexpr size_t kAhead = 12;
      for (size_t i = 0; i < members.size(); ++i) {
        if (i + kAhead < members.size() && members[i + kAhead].group != kNone) {
          keys_.PrefetchSlot(members[i + kAhead].slot);
          groups_.PrefetchInUse(members[i + kAhead].group);
          store_.Prefetch(members[i + kAhead].group);
        }
        if (members[i].group == kNone) continue;
        store_.Remove(members[i].group);  // with its copy in the backend, if any
        FreeGroup(members[i].group, members[i].slot, pane_end);
      }
      panes_.erase(panes_.begin());
    }
    // Then the cold groups of the expired panes.
    const std::map<int64_t, int64_t>& cold_panes = store_.index_times();
    if (cold_panes.empty() || !expired(cold_panes.begin()->first)) return;
    int64_t last_expired = cold_panes.begin()->first;
    for (auto it = cold_panes.begin(); it != cold_panes.end() && expired(it->first); ++it) {
      last_expired = it->first;
    }
    store_.DropIndexedThrough(last_expired);
  }

  // ---- the keyed state store: an entry is a hot group ----------------------------------------

  void AppendStateKey(uint32_t slot, int64_t pane_end, std::string* key) const {
    AppendKeyGroup(keys_.key_group(slot), key);
    keys_.AppendEncoded(slot, key);
    state_keys::AppendTime(key, pane_end);
  }

  void AppendStateKey(uint32_t group, std::string* key) const override {
    AppendStateKey(meta_[group].slot, meta_[group].pane_end, key);
  }

  void Serialize(uint32_t group, std::string* value) override {
    layout_.Serialize(groups_.row(group), value);
  }

  int64_t IndexTime(uint32_t group) const override { return meta_[group].pane_end; }
  bool TracksTouches() const override { return true; }
  uint32_t LastTouched(uint32_t group) const override { return groups_.header(group)->touched; }

  // Written back: the group leaves its pane (compacted after the step, keeping the order).
  void Evicted(uint32_t group) override {
    const GroupMeta meta = meta_[group];
    panes_[meta.pane_end].members[meta.position].group = kNone;
    if (evicted_panes_.empty() || evicted_panes_.back() != meta.pane_end) {
      evicted_panes_.push_back(meta.pane_end);
    }
    FreeGroup(group, meta.slot, meta.pane_end);
  }

  int64_t HotBytes() const override {
    const int64_t per_group = static_cast<int64_t>(layout_.row_bytes() + sizeof(GroupMeta) + 4);
    return static_cast<int64_t>(groups_.live()) * per_group +
           static_cast<int64_t>(table_.memory_bytes() + keys_.memory_bytes()) + heap_bytes_;
  }

  // Drops the places of written-back groups from their panes.
  void CompactEvictedPanes() {
    std::sort(evicted_panes_.begin(), evicted_panes_.end());
    evicted_panes_.erase(std::unique(evicted_panes_.begin(), evicted_panes_.end()),
                         evicted_panes_.end());
    for (int64_t pane_end : evicted_panes_) {
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
    evicted_panes_.clear();
  }

  void FinishStep() override {
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, store_.HotBytes()));
    store_.FinishStep();
    CompactEvictedPanes();
    keys_.Sweep(IdleKeysToKeep(keys_, context_.hot_state_bytes, store_.HotBytes()));
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
  OperatorMetrics own_metrics_{"window"};
  OperatorMetrics* metrics_;
  KeyedStateStore store_;
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
  uint32_t batch_number_ = 0;
  std::vector<int64_t> evicted_panes_;  // panes that lost groups this step

  // Per-batch and per-firing scratch.
  std::vector<int64_t> times_;
  std::vector<uint32_t> slots_, group_of_row_;
  std::vector<int64_t> late_updates_;
  std::vector<const arrow::Array*> inputs_;
  std::vector<Part> parts_;
  std::vector<uint32_t> slot_window_, window_slots_;
  std::vector<uint64_t> scratch_rows_;
  std::map<int64_t, ParkedPane> parked_panes_;  // during Fire()
  std::string key_scratch_;
};

}  // namespace

std::unique_ptr<KeyedOperatorState> MakeSliceWindowState(const AggregationPlan& plan,
                                                         SubtaskContext context) {
  return std::make_unique<SliceWindowState>(plan, std::move(context));
}

}  // namespace millstream
