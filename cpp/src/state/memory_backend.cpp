#include "state/memory_backend.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/key_groups.h"
#include "core/snapshot.h"
#include "state/entry_file.h"

namespace millstream {

class MemoryBackend::Iterator final : public StateIterator {
 public:
  Iterator(MemoryBackend* backend, int cf, std::string_view begin, std::string_view end)
      : backend_(backend), cf_(cf), end_(end) {
    map_ = &backend_->family(cf);
    position_ = map_->lower_bound(begin);
    backend_->open_iterators_.push_back(this);
  }
  ~Iterator() override {
    auto& open = backend_->open_iterators_;
    open.erase(std::find(open.begin(), open.end(), this));
  }

  bool Valid() const override {
    if (detached_) return true;  // it was on an entry when a write came
    return position_ != map_->end() && (end_.empty() || std::string_view(position_->first) < end_);
  }
  std::string_view key() const override { return detached_ ? saved_key_ : position_->first; }
  std::string_view value() const override { return detached_ ? saved_value_ : position_->second; }
  void Next() override {
    if (detached_) {
      position_ = map_->upper_bound(saved_key_);
      detached_ = false;
      return;
    }
    ++position_;
  }

  int cf() const { return cf_; }
  void Detach() {
    if (detached_ || !Valid()) return;
    saved_key_ = position_->first;
    saved_value_ = position_->second;
    detached_ = true;
  }

 private:
  MemoryBackend* backend_;
  int cf_;
  Map* map_;
  std::string end_;
  Map::iterator position_;
  bool detached_ = false;
  std::string saved_key_;
  std::string saved_value_;
};

MemoryBackend::MemoryBackend() = default;

MemoryBackend::~MemoryBackend() {
  MS_CHECK(open_iterators_.empty(), "a state iterator outlived its memory backend");
}

int MemoryBackend::ColumnFamily(const std::string& name) {
  auto [entry, inserted] = handles_.try_emplace(name, static_cast<int>(families_.size()));
  if (inserted) families_.emplace_back();
  return entry->second;
}

MemoryBackend::Map& MemoryBackend::family(int cf) {
  MS_CHECK(cf >= 0 && cf < static_cast<int>(families_.size()),
           "unknown column family handle " + std::to_string(cf));
  return families_[cf];
}

void MemoryBackend::DetachIterators(int cf) {
  for (Iterator* iterator : open_iterators_) {
    if (iterator->cf() == cf) iterator->Detach();
  }
}

bool MemoryBackend::Get(int cf, std::string_view key, std::string* value) {
  Map& map = family(cf);
  auto entry = map.find(key);
  if (entry == map.end()) return false;
  value->assign(entry->second);
  return true;
}

void MemoryBackend::Put(int cf, std::string_view key, std::string_view value) {
  Map& map = family(cf);
  if (!open_iterators_.empty()) DetachIterators(cf);
  auto entry = map.lower_bound(key);
  if (entry != map.end() && entry->first == key) {
    entry->second.assign(value);
  } else {
    map.emplace_hint(entry, std::string(key), std::string(value));
  }
}

void MemoryBackend::Delete(int cf, std::string_view key) {
  Map& map = family(cf);
  if (!open_iterators_.empty()) DetachIterators(cf);
  auto entry = map.find(key);
  if (entry != map.end()) map.erase(entry);
}

std::unique_ptr<StateIterator> MemoryBackend::Scan(int cf, std::string_view begin,
                                                   std::string_view end) {
  return std::make_unique<Iterator>(this, cf, begin, end);
}

void MemoryBackend::Checkpoint(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw UserError("cannot create the checkpoint directory '" + directory + "': " + error.message());
  EntryFileWriter families;
  for (const auto& [name, cf] : handles_) {
    const std::string file = "cf-" + std::to_string(cf);
    EntryFileWriter entries;
    for (const auto& [key, value] : families_[cf]) entries.Add(key, value);
    entries.WriteTo(directory + "/" + file);
    families.Add(name, file);
  }
  families.WriteTo(directory + "/FAMILIES");  // last: names only files already written
}

void MemoryBackend::LoadCheckpoint(const std::string& directory, int first_key_group,
                                   int end_key_group) {
  std::vector<std::pair<std::string, std::string>> files;  // (family, file)
  ReadEntryFile(directory + "/FAMILIES", [&](std::string_view name, std::string_view file) {
    files.emplace_back(std::string(name), std::string(file));
  });
  for (const auto& [name, file] : files) {
    Map& map = family(ColumnFamily(name));
    if (!open_iterators_.empty()) DetachIterators(handles_[name]);
    ReadEntryFile(directory + "/" + file, [&](std::string_view key, std::string_view value) {
      MS_CHECK(key.size() >= 2, "a state key without its key group in " + directory + "/" + file);
      const int key_group = ReadKeyGroup(key);
      if (key_group < first_key_group || key_group >= end_key_group) return;
      map.insert_or_assign(std::string(key), std::string(value));
    });
  }
}

}  // namespace millstream
