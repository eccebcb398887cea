#include "ops/spilled_panes.h"

#include <utility>
#include <vector>

#include "core/error.h"
#include "core/key_groups.h"
#include "ops/aggregation_plan.h"
#include "ops/probe_table.h"

namespace millstream {

SpilledPanes::SpilledPanes(StateBackend& backend)
    : backend_(backend),
      acc_cf_(backend.ColumnFamily("window_acc")),
      timer_cf_(backend.ColumnFamily("window_timer")) {}

std::string SpilledPanes::AccKey(uint16_t key_group, std::string_view key, int64_t pane_end) {
  std::string bytes;
  AppendKeyGroup(key_group, &bytes);
  bytes.append(key);
  state_keys::AppendTime(&bytes, pane_end);
  return bytes;
}

std::string SpilledPanes::TimerKey(uint16_t key_group, int64_t pane_end, std::string_view key) {
  std::string bytes;
  AppendKeyGroup(key_group, &bytes);
  state_keys::AppendTime(&bytes, pane_end);
  bytes.append(key);
  return bytes;
}

void SpilledPanes::Put(uint16_t key_group, std::string_view key, int64_t pane_end,
                       std::string_view row, bool overwrite) {
  backend_.Put(acc_cf_, AccKey(key_group, key, pane_end), row);
  backend_.Put(timer_cf_, TimerKey(key_group, pane_end, key), row);
  dirty_ = true;
  if (overwrite) return;
  Pane& pane = panes_[pane_end];
  ++pane.groups;
  ++pane.key_groups[key_group];
  filter_bytes_ -= pane.keys.memory_bytes();
  pane.keys.Add(HashBytes(key));
  filter_bytes_ += pane.keys.memory_bytes();
  ++groups_by_pane_[pane_end];
  ++total_;
}

bool SpilledPanes::Get(uint16_t key_group, std::string_view key, int64_t pane_end,
                       std::string* row) {
  auto pane = panes_.find(pane_end);
  if (pane == panes_.end() || !pane->second.keys.MayContain(HashBytes(key))) return false;
  return backend_.Get(acc_cf_, AccKey(key_group, key, pane_end), row);
}

void SpilledPanes::ForEach(
    int64_t pane_end, const std::function<void(uint16_t, std::string_view, std::string_view)>& f) {
  auto pane = panes_.find(pane_end);
  if (pane == panes_.end()) return;
  for (const auto& [key_group, count] : pane->second.key_groups) {
    const std::string begin = TimerKey(key_group, pane_end, "");
    const std::string end = TimerKey(key_group, pane_end + 1, "");
    for (auto it = backend_.Scan(timer_cf_, begin, end); it->Valid(); it->Next()) {
      f(key_group, it->key().substr(begin.size()), it->value());
    }
  }
}

int64_t SpilledPanes::Drop(int64_t pane_end) {
  auto pane = panes_.find(pane_end);
  if (pane == panes_.end()) return 0;
  const int64_t expected = pane->second.groups;
  keys_.clear();
  ForEach(pane_end, [&](uint16_t key_group, std::string_view key, std::string_view) {
    keys_.emplace_back(key_group, key);
  });
  for (const auto& [key_group, key] : keys_) {
    backend_.Delete(acc_cf_, AccKey(key_group, key, pane_end));
    backend_.Delete(timer_cf_, TimerKey(key_group, pane_end, key));
  }
  const int64_t dropped = static_cast<int64_t>(keys_.size());
  MS_CHECK(dropped == expected, "spilled window count out of step");
  filter_bytes_ -= pane->second.keys.memory_bytes();
  panes_.erase(pane);
  groups_by_pane_.erase(pane_end);
  total_ -= dropped;
  dirty_ = true;
  return dropped;
}

}  // namespace millstream
