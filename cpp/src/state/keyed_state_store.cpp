#include "state/keyed_state_store.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/hash.h"
#include "core/key_groups.h"
#include "state/evict_oldest.h"

namespace millstream {

KeyedStateStore::KeyedStateStore(StateBackend& backend, const std::string& column_family,
                                 int64_t hot_budget_bytes, OperatorMetrics* metrics,
                                 KeyedEntryCodec* codec)
    : backend_(backend),
      cf_(backend.ColumnFamily(column_family)),
      hot_budget_bytes_(hot_budget_bytes),
      metrics_(metrics),
      codec_(codec) {
  MS_CHECK(codec_ != nullptr, "a keyed state store needs its operator's codec");
}

KeyedStateStore::~KeyedStateStore() { AddEntries(-entries()); }

void KeyedStateStore::AddEntries(int64_t delta) {
  if (metrics_ != nullptr) metrics_->state_entries += delta;
}

void KeyedStateStore::Add(uint32_t entry, uint32_t step) {
  if (info_.size() <= entry) info_.resize(std::max<size_t>(entry + 1, info_.size() * 2));
  EntryInfo& info = info_[entry];
  MS_CHECK(!info.hot, "keyed state entry added twice");
  info = EntryInfo{step, 1, 0};
  ++hot_entries_;
  AddEntries(1);
}

void KeyedStateStore::Remove(uint32_t entry) {
  MS_CHECK(hot(entry), "removing a keyed state entry that is not hot");
  EntryInfo& info = info_[entry];
  if (info.in_backend) {
    key_.clear();
    codec_->AppendStateKey(entry, &key_);
    backend_.Delete(cf_, key_);
    dirty_ = true;
    --hot_with_copy_;
  }
  info = EntryInfo{};
  --hot_entries_;
  AddEntries(-1);
}

bool KeyedStateStore::MayBeCold(std::string_view state_key) const {
  return cold_entries_ + hot_with_copy_ > 0 && written_.MayContain(HashBytes(state_key));
}

void KeyedStateStore::RequestLoad(uint32_t entry, std::string state_key) {
  MS_CHECK(hot(entry) && !info_[entry].in_backend, "read-back requested for a wrong entry");
  loads_.push_back(Load{std::move(state_key), entry});
}

void KeyedStateStore::LoadRequested(const std::function<void(uint32_t, std::string_view)>& found) {
  if (loads_.empty()) return;
  // Key order is key-group order: RocksDB finds neighbouring keys in the same blocks.
  std::sort(loads_.begin(), loads_.end(), [](const Load& a, const Load& b) { return a.key < b.key; });
  load_keys_.clear();
  for (Load& load : loads_) load_keys_.push_back(std::move(load.key));
  if (metrics_ != nullptr) metrics_->state_reads += static_cast<int64_t>(load_keys_.size());
  backend_.MultiGet(cf_, load_keys_, [&](size_t i, std::string_view value) {
    const uint32_t entry = loads_[i].entry;
    EntryInfo& info = info_[entry];
    info.in_backend = 1;
    ++hot_with_copy_;
    --cold_entries_;
    AddEntries(-1);  // counted as new by Add, but it is the cold entry come back
    found(entry, value);
  });
  loads_.clear();
}

int64_t KeyedStateStore::HotBytes() const {
  return codec_->HotBytes() + static_cast<int64_t>(written_.memory_bytes()) +
         static_cast<int64_t>(info_.capacity() * sizeof(EntryInfo));
}

void KeyedStateStore::NoteWritten(std::string_view state_key) {
  const uint64_t hash = HashBytes(state_key);
  if (!written_.MayContain(hash)) written_.Add(hash);
}

void KeyedStateStore::Evict(uint32_t entry) {
  EntryInfo& info = info_[entry];
  key_.clear();
  codec_->AppendStateKey(entry, &key_);
  value_.clear();
  codec_->Serialize(entry, &value_);
  backend_.Put(cf_, key_, value_);
  dirty_ = true;
  if (metrics_ != nullptr) ++metrics_->state_writes;
  if (info.in_backend) {
    --hot_with_copy_;
  } else {
    NoteWritten(key_);
  }
  info = EntryInfo{};
  --hot_entries_;
  ++cold_entries_;
  codec_->Evicted(entry);
}

void KeyedStateStore::FinishStep() {
  if (hot_budget_bytes_ >= 0 && HotBytes() > hot_budget_bytes_) {
    std::vector<AgeEntry> by_age;  // (touched, entry)
    by_age.reserve(static_cast<size_t>(hot_entries_));
    for (uint32_t entry = 0; entry < info_.size(); ++entry) {
      if (info_[entry].hot) by_age.emplace_back(info_[entry].touched, entry);
    }
    const int64_t target = hot_budget_bytes_ / 4 * 3;
    EvictOldest(&by_age, [&] { return HotBytes() > target; }, [&](uint32_t entry) { Evict(entry); });
  }
  if (dirty_) {
    backend_.Commit();
    dirty_ = false;
  }
}

void KeyedStateStore::Snapshot(int first_key_group, int end_key_group,
                               const std::function<void(std::string_view, std::string_view)>& out) {
  // The hot entries, serialised and sorted; a backend copy of a hot entry is stale.
  std::vector<std::pair<std::string, std::string>> hot_entries;
  for (uint32_t entry = 0; entry < info_.size(); ++entry) {
    if (!info_[entry].hot) continue;
    std::string key;
    codec_->AppendStateKey(entry, &key);
    const int key_group = ReadKeyGroup(key);
    if (key_group < first_key_group || key_group >= end_key_group) continue;
    std::string value;
    codec_->Serialize(entry, &value);
    hot_entries.emplace_back(std::move(key), std::move(value));
  }
  std::sort(hot_entries.begin(), hot_entries.end());
  std::string begin, end;
  AppendKeyGroup(first_key_group, &begin);
  if (end_key_group < kMaxKeyGroups) AppendKeyGroup(end_key_group, &end);
  auto hot = hot_entries.begin();
  for (auto it = backend_.Scan(cf_, begin, end); it->Valid(); it->Next()) {
    const std::string_view key = it->key();
    for (; hot != hot_entries.end() && hot->first < key; ++hot) out(hot->first, hot->second);
    if (hot != hot_entries.end() && hot->first == key) continue;  // stale copy of a hot entry
    out(key, it->value());
  }
  for (; hot != hot_entries.end(); ++hot) out(hot->first, hot->second);
}

void KeyedStateStore::Restore(std::string_view key, std::string_view value) {
  MS_CHECK(key.size() >= 2, "a keyed state key starts with its key group");
  backend_.Put(cf_, key, value);
  dirty_ = true;
  NoteWritten(key);
  ++cold_entries_;
  AddEntries(1);
}

}  // namespace millstream
