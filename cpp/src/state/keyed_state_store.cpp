#include "state/keyed_state_store.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/hash.h"
#include "core/key_groups.h"
#include "state/entry_file.h"
#include "state/evict_oldest.h"

namespace millstream {

KeyedStateStore::KeyedStateStore(StateBackend& backend, const std::string& column_family,
                                 int64_t hot_budget_bytes, OperatorMetrics* metrics,
                                 KeyedEntryCodec* codec)
    : backend_(backend),
      column_family_(column_family),
      cf_(backend.ColumnFamily(column_family)),
      hot_budget_bytes_(hot_budget_bytes),
      metrics_(metrics),
      codec_(codec) {
  MS_CHECK(codec_ != nullptr, "a keyed state store needs its operator's codec");
}

KeyedStateStore::~KeyedStateStore() {
  AddEntries(-entries());
  PublishEntries();
}

void KeyedStateStore::UseTimeIndex(const TimeIndexOptions& options) {
  MS_CHECK(info_.empty() && index_cf_ < 0, "a time index is chosen before the first entry");
  index_ = options;
  index_cf_ = backend_.ColumnFamily(options.column_family);
}

void KeyedStateStore::AddEntries(int64_t delta) { unpublished_entries_ += delta; }

void KeyedStateStore::PublishEntries() {
  if (metrics_ != nullptr && count_entries_ && unpublished_entries_ != 0) {
    metrics_->state_entries += unpublished_entries_;
  }
  unpublished_entries_ = 0;
}

// [key_group][time][key bytes], where the state key is [key_group][key bytes]([time]).
void KeyedStateStore::AppendIndexKey(std::string_view state_key, int64_t time_ms,
                                     std::string* index_key) const {
  const size_t time_bytes = index_.time_in_state_key ? 8 : 0;
  MS_CHECK(state_key.size() >= 2 + time_bytes, "state key shorter than its layout");
  index_key->append(state_key.substr(0, 2));
  state_keys::AppendTime(index_key, time_ms);
  index_key->append(state_key.substr(2, state_key.size() - 2 - time_bytes));
}

void KeyedStateStore::PutIndex(std::string_view state_key, int64_t time_ms, std::string_view value) {
  index_key_.clear();
  AppendIndexKey(state_key, time_ms, &index_key_);
  backend_.Put(index_cf_, index_key_, index_.copy_value ? value : std::string_view());
  ++index_times_[time_ms];
  ++index_key_groups_[static_cast<uint16_t>(ReadKeyGroup(state_key))];
}

void KeyedStateStore::DeleteIndex(std::string_view state_key, int64_t time_ms) {
  index_key_.clear();
  AppendIndexKey(state_key, time_ms, &index_key_);
  backend_.Delete(index_cf_, index_key_);
  auto time = index_times_.find(time_ms);
  MS_CHECK(time != index_times_.end(), "time index out of step with the backend");
  if (--time->second == 0) index_times_.erase(time);
  auto key_group = index_key_groups_.find(static_cast<uint16_t>(ReadKeyGroup(state_key)));
  MS_CHECK(key_group != index_key_groups_.end(), "time index out of step with the backend");
  if (--key_group->second == 0) index_key_groups_.erase(key_group);
}

void KeyedStateStore::Add(uint32_t entry, uint32_t step) {
  if (info_.size() <= entry) info_.resize(std::max<size_t>(entry + 1, info_.size() * 2));
  EntryInfo& info = info_[entry];
  MS_CHECK(!info.hot, "keyed state entry added twice");
  info = EntryInfo{step, 1, 0};
  if (indexed() && !index_.take_on_load && copy_time_.size() < info_.size()) {
    copy_time_.resize(info_.size());
  }
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
    if (indexed()) DeleteIndex(key_, copy_time_[entry]);
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
  taken_.clear();
  backend_.MultiGet(cf_, load_keys_, [&](size_t i, std::string_view value) {
    const uint32_t entry = loads_[i].entry;
    EntryInfo& info = info_[entry];
    --cold_entries_;
    AddEntries(-1);  // counted as new by Add, but it is the cold entry come back
    if (indexed()) {
      const int64_t time_ms = state_keys::ReadTime(value);
      value.remove_prefix(8);
      if (index_.take_on_load) {
        taken_.emplace_back(load_keys_[i], time_ms);
      } else {
        copy_time_[entry] = time_ms;
      }
    }
    if (!indexed() || !index_.take_on_load) {
      info.in_backend = 1;
      ++hot_with_copy_;
    }
    found(entry, value);
  });
  // (Deleted after the MultiGet: its values stay valid only while nothing is written.)
  for (const auto& [key, time_ms] : taken_) {
    backend_.Delete(cf_, key);
    DeleteIndex(key, time_ms);
    dirty_ = true;
  }
  loads_.clear();
}

int64_t KeyedStateStore::HotBytes() const {
  return codec_->HotBytes() + static_cast<int64_t>(written_.memory_bytes()) +
         static_cast<int64_t>(info_.capacity() * sizeof(EntryInfo) +
                              copy_time_.capacity() * sizeof(int64_t));
}

void KeyedStateStore::NoteWritten(std::string_view state_key) {
  const uint64_t hash = HashBytes(state_key);
  if (!written_.MayContain(hash)) written_.Add(hash);
}

int64_t KeyedStateStore::PutEntry(uint32_t entry) {
  const EntryInfo& info = info_[entry];
  key_.clear();
  codec_->AppendStateKey(entry, &key_);
  value_.clear();
  int64_t time_ms = 0;
  if (indexed()) {
    time_ms = codec_->IndexTime(entry);
    state_keys::AppendTime(&value_, time_ms);  // the index time leads the value
  }
  codec_->Serialize(entry, &value_);
  backend_.Put(cf_, key_, value_);
  if (indexed()) {
    // The copy's index entry is replaced (the same key, overwritten, when its time is the same).
    if (info.in_backend) DeleteIndex(key_, copy_time_[entry]);
    PutIndex(key_, time_ms, std::string_view(value_).substr(8));
  }
  dirty_ = true;
  if (metrics_ != nullptr) ++metrics_->state_writes;
  if (!info.in_backend) NoteWritten(key_);
  return time_ms;
}

void KeyedStateStore::Evict(uint32_t entry) {
  PutEntry(entry);
  EntryInfo& info = info_[entry];
  if (info.in_backend) --hot_with_copy_;
  info = EntryInfo{};
  --hot_entries_;
  ++cold_entries_;
  codec_->Evicted(entry);
}

void KeyedStateStore::FinishStep() {
  if (hot_budget_bytes_ >= 0 && HotBytes() > hot_budget_bytes_) {
    std::vector<AgeEntry> by_age;  // (touched, entry)
    by_age.reserve(static_cast<size_t>(hot_entries_));
    const bool codec_touches = codec_->TracksTouches();
    for (uint32_t entry = 0; entry < info_.size(); ++entry) {
      if (!info_[entry].hot) continue;
      by_age.emplace_back(codec_touches ? codec_->LastTouched(entry) : info_[entry].touched, entry);
    }
    const int64_t target = hot_budget_bytes_ / 4 * 3;
    EvictOldest(&by_age, [&] { return HotBytes() > target; }, [&](uint32_t entry) { Evict(entry); });
  }
  if (dirty_) {
    backend_.Commit();
    dirty_ = false;
  }
  PublishEntries();
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
    if (indexed()) state_keys::AppendTime(&value, codec_->IndexTime(entry));
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
  if (indexed()) PutIndex(key, state_keys::ReadTime(value), value.substr(8));
  dirty_ = true;
  NoteWritten(key);
  ++cold_entries_;
  AddEntries(1);
}

void KeyedStateStore::WriteHotForCheckpoint(uint32_t step) {
  MS_CHECK(temporary_copies_.empty(), "a checkpoint began before the last one was taken");
  const bool copies_stay = backend_.kind() == "rocksdb" && !(indexed() && index_.take_on_load);
  for (uint32_t entry = 0; entry < info_.size(); ++entry) {
    EntryInfo& info = info_[entry];
    if (!info.hot) continue;
    if (info.in_backend && LastTouched(entry) < checkpoint_step_) continue;  // its copy is current
    const int64_t time_ms = PutEntry(entry);
    if (info.in_backend) {
      if (indexed()) copy_time_[entry] = time_ms;
    } else if (copies_stay) {
      info.in_backend = 1;
      ++hot_with_copy_;
      if (indexed()) copy_time_[entry] = time_ms;
    } else {
      temporary_copies_.emplace_back(key_, time_ms);
    }
  }
  checkpoint_step_ = step;
  backend_.Commit();
  dirty_ = false;
}

void KeyedStateStore::WriteBookkeeping(const std::string& path, int first_key_group,
                                       int end_key_group) const {
  EntryFileWriter out;
  std::string value;
  AppendU64(&value, static_cast<uint64_t>(first_key_group));
  AppendU64(&value, static_cast<uint64_t>(end_key_group));
  out.Add("key_groups", value);
  value.clear();
  // Every entry is in the backend now (WriteHotForCheckpoint), and is cold after a restore.
  AppendU64(&value, static_cast<uint64_t>(cold_entries_ + hot_entries_));
  out.Add("entries", value);
  value.clear();
  written_.AppendTo(&value);
  out.Add("filter", value);
  value.clear();
  for (const auto& [time_ms, count] : index_times_) {
    AppendU64(&value, static_cast<uint64_t>(time_ms));
    AppendU64(&value, static_cast<uint64_t>(count));
  }
  out.Add("index_times", value);
  value.clear();
  for (const auto& [key_group, count] : index_key_groups_) {
    AppendU64(&value, key_group);
    AppendU64(&value, static_cast<uint64_t>(count));
  }
  out.Add("index_key_groups", value);
  out.WriteTo(path);
}

void KeyedStateStore::CheckpointTaken() {
  for (const auto& [key, time_ms] : temporary_copies_) {
    backend_.Delete(cf_, key);
    if (indexed()) DeleteIndex(key, time_ms);
  }
  temporary_copies_.clear();
  backend_.Commit();
}

bool KeyedStateStore::Restored(const std::vector<std::string>& bookkeeping_paths,
                               int first_key_group, int end_key_group,
                               const std::function<void(std::string_view, std::string_view)>& each,
                               bool scan_always) {
  MS_CHECK(info_.empty() && entries() == 0 && index_times_.empty(),
           "state restored into a store that holds entries");
  if (bookkeeping_paths.size() == 1 && !scan_always) {
    std::map<std::string, std::string, std::less<>> records;
    ReadEntryFile(bookkeeping_paths[0], [&](std::string_view key, std::string_view value) {
      records.emplace(std::string(key), std::string(value));
    });
    const std::string& path = bookkeeping_paths[0];
    auto record = [&](const char* name) -> const std::string& {
      auto found = records.find(name);
      if (found == records.end()) {
        throw UserError("the checkpoint file '" + path + "' has no " + name +
                        ": restore from an earlier complete checkpoint");
      }
      return found->second;
    };
    size_t offset = 0;
    const std::string& range = record("key_groups");
    const int64_t first = static_cast<int64_t>(ReadU64(range, &offset, path));
    const int64_t end = static_cast<int64_t>(ReadU64(range, &offset, path));
    if (first == first_key_group && end == end_key_group) {
      offset = 0;
      cold_entries_ = static_cast<int64_t>(ReadU64(record("entries"), &offset, path));
      AddEntries(cold_entries_);
      if (!written_.ReadFrom(record("filter"))) {
        throw UserError("the key filter in the checkpoint file '" + path +
                        "' is damaged: restore from an earlier complete checkpoint");
      }
      const std::string& times = record("index_times");
      for (offset = 0; offset < times.size();) {
        const int64_t time_ms = static_cast<int64_t>(ReadU64(times, &offset, path));
        index_times_[time_ms] = static_cast<int64_t>(ReadU64(times, &offset, path));
      }
      const std::string& key_groups = record("index_key_groups");
      for (offset = 0; offset < key_groups.size();) {
        const uint16_t key_group = static_cast<uint16_t>(ReadU64(key_groups, &offset, path));
        index_key_groups_[key_group] = static_cast<int64_t>(ReadU64(key_groups, &offset, path));
      }
      PublishEntries();
      return false;
    }
  }
  // Rescaled (or the operator needs every entry): the backend holds exactly the range.
  std::string begin, end;
  AppendKeyGroup(first_key_group, &begin);
  if (end_key_group < kMaxKeyGroups) AppendKeyGroup(end_key_group, &end);
  for (auto it = backend_.Scan(cf_, begin, end); it->Valid(); it->Next()) {
    const std::string_view key = it->key();
    std::string_view value = it->value();
    NoteWritten(key);
    ++cold_entries_;
    AddEntries(1);
    if (indexed()) {
      ++index_times_[state_keys::ReadTime(value)];
      ++index_key_groups_[static_cast<uint16_t>(ReadKeyGroup(key))];
      value.remove_prefix(8);
    }
    if (each) each(key, value);
  }
  PublishEntries();
  return true;
}

void KeyedStateStore::ScanIndex(
    int64_t from_ms, int64_t to_ms,
    const std::function<void(uint16_t, std::string_view, int64_t, std::string_view)>& f) {
  MS_CHECK(indexed(), "a scan of a time index the store does not keep");
  if (from_ms > to_ms) return;
  std::string begin, end;
  for (const auto& [key_group, count] : index_key_groups_) {
    begin.clear();
    AppendKeyGroup(key_group, &begin);
    end = begin;
    state_keys::AppendTime(&begin, from_ms);
    if (to_ms == INT64_MAX) {
      end = PrefixEnd(end);
    } else {
      state_keys::AppendTime(&end, to_ms + 1);
    }
    for (auto it = backend_.Scan(index_cf_, begin, end); it->Valid(); it->Next()) {
      const std::string_view key = it->key();
      f(key_group, key.substr(10), state_keys::ReadTime(key.substr(2)), it->value());
    }
  }
}

int64_t KeyedStateStore::DropIndexedThrough(int64_t to_ms) {
  if (index_times_.empty() || index_times_.begin()->first > to_ms) return 0;
  int64_t expected = 0;
  for (auto it = index_times_.begin(); it != index_times_.end() && it->first <= to_ms; ++it) {
    expected += it->second;
  }
  std::vector<std::pair<std::string, int64_t>> dropped;  // (state key, time)
  ScanIndex(index_times_.begin()->first, to_ms,
            [&](uint16_t key_group, std::string_view key, int64_t time_ms, std::string_view) {
              std::string state_key;
              AppendKeyGroup(key_group, &state_key);
              state_key.append(key);
              if (index_.time_in_state_key) state_keys::AppendTime(&state_key, time_ms);
              dropped.emplace_back(std::move(state_key), time_ms);
            });
  MS_CHECK(static_cast<int64_t>(dropped.size()) == expected,
           "time index out of step with the backend (a hot entry of a dropped time left?)");
  for (const auto& [state_key, time_ms] : dropped) {
    backend_.Delete(cf_, state_key);
    DeleteIndex(state_key, time_ms);
  }
  dirty_ = true;
  cold_entries_ -= expected;
  AddEntries(-expected);
  return expected;
}

}  // namespace millstream
