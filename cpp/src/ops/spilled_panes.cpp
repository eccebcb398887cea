#include "ops/spilled_panes.h"

#include <utility>
#include <vector>

#include "core/error.h"
#include "core/key_groups.h"
#include "ops/aggregation_plan.h"

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
                       std::string_view row) {
  backend_.Put(acc_cf_, AccKey(key_group, key, pane_end), row);
  backend_.Put(timer_cf_, TimerKey(key_group, pane_end, key), "");
  Pane& pane = panes_[pane_end];
  ++pane.groups;
  ++pane.key_groups[key_group];
  ++groups_by_pane_[pane_end];
  ++total_;
  dirty_ = true;
}

bool SpilledPanes::Get(uint16_t key_group, std::string_view key, int64_t pane_end,
                       std::string* row) {
  if (!Has(pane_end)) return false;
  return backend_.Get(acc_cf_, AccKey(key_group, key, pane_end), row);
}

bool SpilledPanes::Take(uint16_t key_group, std::string_view key, int64_t pane_end,
                        std::string* row) {
  if (!Get(key_group, key, pane_end, row)) return false;
  backend_.Delete(acc_cf_, AccKey(key_group, key, pane_end));
  backend_.Delete(timer_cf_, TimerKey(key_group, pane_end, key));
  Forget(key_group, pane_end);
  dirty_ = true;
  return true;
}

void SpilledPanes::Forget(uint16_t key_group, int64_t pane_end) {
  auto pane = panes_.find(pane_end);
  MS_CHECK(pane != panes_.end(), "spilled pane not tracked");
  if (--pane->second.key_groups[key_group] == 0) pane->second.key_groups.erase(key_group);
  --total_;
  if (--groups_by_pane_[pane_end] == 0) groups_by_pane_.erase(pane_end);
  if (--pane->second.groups == 0) panes_.erase(pane);
}

void SpilledPanes::ForEachKey(int64_t pane_end,
                              const std::function<void(uint16_t, std::string_view)>& f) {
  auto pane = panes_.find(pane_end);
  if (pane == panes_.end()) return;
  std::vector<std::pair<uint16_t, std::string>> keys;
  for (const auto& [key_group, count] : pane->second.key_groups) {
    std::string begin = TimerKey(key_group, pane_end, "");
    std::string end = TimerKey(key_group, pane_end + 1, "");
    for (auto it = backend_.Scan(timer_cf_, begin, end); it->Valid(); it->Next()) {
      keys.emplace_back(key_group, it->key().substr(begin.size()));
    }
  }
  for (const auto& [key_group, key] : keys) f(key_group, key);
}

void SpilledPanes::ForEach(
    int64_t pane_end, const std::function<void(uint16_t, std::string_view, std::string_view)>& f) {
  ForEachKey(pane_end, [&](uint16_t key_group, std::string_view key) {
    bool found = backend_.Get(acc_cf_, AccKey(key_group, key, pane_end), &value_);
    MS_CHECK(found, "window timer without its accumulator");
    f(key_group, key, value_);
  });
}

int64_t SpilledPanes::Drop(int64_t pane_end) {
  auto pane = panes_.find(pane_end);
  if (pane == panes_.end()) return 0;
  const int64_t expected = pane->second.groups;
  int64_t dropped = 0;
  ForEachKey(pane_end, [&](uint16_t key_group, std::string_view key) {
    backend_.Delete(acc_cf_, AccKey(key_group, key, pane_end));
    backend_.Delete(timer_cf_, TimerKey(key_group, pane_end, key));
    ++dropped;
  });
  MS_CHECK(dropped == expected, "spilled window count out of step");
  panes_.erase(pane_end);
  groups_by_pane_.erase(pane_end);
  total_ -= dropped;
  dirty_ = true;
  return dropped;
}

}  // namespace millstream
