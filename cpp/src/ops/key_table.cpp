#include "ops/key_table.h"

#include <algorithm>
#include <cstring>

#include <arrow/array/data.h>
#include <arrow/builder.h>

#include "core/error.h"

namespace millstream {

namespace {

constexpr uint32_t kNoSlot = 0xffffffffu;

void AppendInt64Key(int64_t value, std::string* out) {
  // KeyEncoder's layout for a 64-bit signed column: present marker, big-endian, sign flipped.
  uint64_t bits = static_cast<uint64_t>(value) ^ (1ull << 63);
  char bytes[9];
  bytes[0] = 1;
  for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
  out->append(bytes, 9);
}

// Returns false for the null key.
bool ReadInt64Key(std::string_view bytes, int64_t* value) {
  MS_CHECK(!bytes.empty(), "empty encoded key");
  if (bytes[0] == 0) return false;
  MS_CHECK(bytes.size() >= 9 && bytes[0] == 1, "bad encoded int64 key");
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(bytes[1 + i]);
  *value = static_cast<int64_t>(bits ^ (1ull << 63));
  return true;
}

}  // namespace

KeyTable::KeyTable(const arrow::Schema& schema, std::vector<int> key_columns, size_t payload_bytes)
    : key_columns_(std::move(key_columns)),
      schema_(std::make_shared<arrow::Schema>(schema.fields())) {
  for (int column : key_columns_) {
    MS_CHECK(column >= 0 && column < schema.num_fields(), "key column outside the schema");
    fields_.push_back(schema.field(column));
    KeyKindOf(*schema.field(column));  // throws UserTypeError for types that cannot be keys
  }
  single_int64_ = key_columns_.size() == 1 && KeyKindOf(*fields_[0]) == KeyKind::kInt64;
  // Slots of up to a cache line never straddle two.
  stride_ = sizeof(SlotInfo) + payload_bytes;
  for (size_t line : {size_t{16}, size_t{32}, size_t{64}}) {
    if (stride_ <= line) {
      stride_ = line;
      break;
    }
  }
  stride_ = (stride_ + 15) / 16 * 16;
}

uint32_t KeyTable::NewSlot(uint16_t key_group) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slot_count_++);
    MS_CHECK(slot != kNoSlot, "too many live keys");
    size_t lines = (slot_count_ * stride_ + 63) / 64;
    if (slot_lines_.size() < lines) slot_lines_.resize(std::max(lines, slot_lines_.size() * 2));
    if (!single_int64_) bytes_.emplace_back();
  }
  std::memset(static_cast<void*>(&info(slot)), 0, stride_);
  info(slot) = SlotInfo{0, 0, key_group, 0, 1};
  ++live_;
  ++idle_;
  unreferenced_.push_back(slot);  // until something retains it
  return slot;
}

uint32_t KeyTable::InternInt(int64_t value, uint16_t key_group) {
  auto [entry, inserted] = ints_.FindOrInsert(
      HashInt(value), [value](const IntEntry& e) { return e.value == value; },
      [](const IntEntry& e) { return HashInt(e.value); });
  if (!inserted) return entry->slot;
  entry->value = value;
  entry->slot = NewSlot(key_group);
  info(entry->slot).int_value = value;
  return entry->slot;
}

uint32_t KeyTable::InternNull(uint16_t key_group) {
  if (null_slot_ == kNoSlot) {
    null_slot_ = NewSlot(key_group);
    info(null_slot_).is_null = 1;
  }
  return null_slot_;
}

uint32_t KeyTable::InternBytes(std::string_view bytes, uint16_t key_group) {
  uint64_t hash = HashBytes(bytes);
  auto [entry, inserted] = bytes_table_.FindOrInsert(
      hash,
      [&](const BytesEntry& e) { return e.hash == hash && bytes_[e.slot] == bytes; },
      [](const BytesEntry& e) { return e.hash; });
  if (!inserted) return entry->slot;
  entry->hash = hash;
  entry->slot = kNoSlot;  // NewSlot may grow bytes_; fill the entry after
  uint32_t slot = NewSlot(key_group);
  entry->slot = slot;
  bytes_[slot].assign(bytes);
  return slot;
}

void KeyTable::Lookup(const arrow::RecordBatch& batch, const std::vector<uint16_t>& key_groups,
                      std::vector<uint32_t>* slots) {
  const int64_t rows = batch.num_rows();
  MS_CHECK(static_cast<int64_t>(key_groups.size()) == rows, "one key group per row expected");
  slots->resize(rows);
  uint32_t* out = slots->data();
  if (single_int64_) {
    const arrow::ArrayData& data = *batch.column_data(key_columns_[0]);
    const int64_t* values = data.GetValues<int64_t>(1);
    const uint8_t* validity = data.GetNullCount() > 0 ? data.GetValues<uint8_t>(0, 0) : nullptr;
    constexpr int64_t kAhead = 16;
    for (int64_t i = 0; i < rows; ++i) {
      if (i + kAhead < rows) ints_.Prefetch(HashInt(values[i + kAhead]));
      if (validity != nullptr && !arrow::bit_util::GetBit(validity, data.offset + i)) {
        out[i] = InternNull(key_groups[i]);
      } else {
        out[i] = InternInt(values[i], key_groups[i]);
      }
    }
    return;
  }
  KeyEncoder encoder(batch, key_columns_);
  for (int64_t i = 0; i < rows; ++i) {
    scratch_.clear();
    encoder.Append(i, &scratch_);
    out[i] = InternBytes(scratch_, key_groups[i]);
  }
}

uint32_t KeyTable::LookupEncoded(std::string_view key_bytes, uint16_t key_group) {
  if (!single_int64_) return InternBytes(key_bytes, key_group);
  int64_t value;
  return ReadInt64Key(key_bytes, &value) ? InternInt(value, key_group) : InternNull(key_group);
}

void KeyTable::Remove(uint32_t slot) {
  if (single_int64_) {
    if (slot == null_slot_) {
      null_slot_ = kNoSlot;
    } else {
      int64_t value = info(slot).int_value;
      IntEntry* entry = ints_.Find(HashInt(value), [value](const IntEntry& e) { return e.value == value; });
      MS_CHECK(entry != nullptr && entry->slot == slot, "key slot missing from its table");
      ints_.Erase(entry, [](const IntEntry& e) { return HashInt(e.value); });
    }
  } else {
    const std::string& bytes = bytes_[slot];
    uint64_t hash = HashBytes(bytes);
    BytesEntry* entry =
        bytes_table_.Find(hash, [&](const BytesEntry& e) { return e.slot == slot; });
    MS_CHECK(entry != nullptr, "key slot missing from its table");
    bytes_table_.Erase(entry, [](const BytesEntry& e) { return e.hash; });
    std::string().swap(bytes_[slot]);
  }
  info(slot).in_use = 0;
  free_slots_.push_back(slot);
  --live_;
  --idle_;
}

void KeyTable::Sweep(size_t keep_idle) {
  if (idle_ <= keep_idle) {
    // The list of candidates must not grow without bound while slots are kept.
    if (unreferenced_.size() > 4 * live_ + 1024) {
      std::vector<uint32_t> still;
      for (uint32_t slot : unreferenced_) {
        if (info(slot).in_use && info(slot).references == 0) still.push_back(slot);
      }
      std::sort(still.begin(), still.end());
      still.erase(std::unique(still.begin(), still.end()), still.end());
      unreferenced_.swap(still);
    }
    return;
  }
  for (uint32_t slot : unreferenced_) {
    if (info(slot).in_use && info(slot).references == 0) Remove(slot);
  }
  unreferenced_.clear();
}

void KeyTable::AppendEncoded(uint32_t slot, std::string* out) const {
  if (!single_int64_) {
    out->append(bytes_[slot]);
  } else if (info(slot).is_null) {
    out->push_back('\0');
  } else {
    AppendInt64Key(info(slot).int_value, out);
  }
}

bool KeyTable::Less(uint32_t a, uint32_t b) const {
  if (!single_int64_) return bytes_[a] < bytes_[b];
  const SlotInfo& x = info(a);
  const SlotInfo& y = info(b);
  if (x.is_null != y.is_null) return x.is_null > y.is_null;  // null first, as encoded
  return x.int_value < y.int_value;
}

size_t KeyTable::memory_bytes() const {
  size_t bytes = ints_.memory_bytes() + bytes_table_.memory_bytes() + slot_count_ * stride_;
  if (!single_int64_) bytes += live_ * (sizeof(std::string) + 16);
  return bytes;
}

KeyTable::Builder::Builder(const KeyTable& table) : table_(table) {
  if (!table_.single_int64_) {
    decoder_ = std::make_unique<KeyDecoder>(*table_.schema_, table_.key_columns_);
  }
}

void KeyTable::Builder::AppendSlot(uint32_t slot) {
  if (decoder_) {
    decoder_->Append(table_.bytes_[slot]);
    return;
  }
  const SlotInfo& slot_info = table_.info(slot);
  values_.push_back(slot_info.int_value);
  valid_.push_back(slot_info.is_null ? 0 : 1);
}

void KeyTable::Builder::AppendEncoded(std::string_view key_bytes) {
  if (decoder_) {
    decoder_->Append(key_bytes);
    return;
  }
  int64_t value = 0;
  bool present = ReadInt64Key(key_bytes, &value);
  values_.push_back(present ? value : 0);
  valid_.push_back(present ? 1 : 0);
}

arrow::ArrayVector KeyTable::Builder::Finish() {
  if (decoder_) return decoder_->Finish();
  arrow::Int64Builder builder;
  CheckArrow(builder.AppendValues(values_.data(), static_cast<int64_t>(values_.size()), valid_.data()),
             "key column");
  values_.clear();
  valid_.clear();
  std::shared_ptr<arrow::Array> ints = CheckArrow(builder.Finish(), "key column");
  // Same layout, the key column's own type (timestamp, duration, ...).
  auto data = ints->data()->Copy();
  data->type = table_.fields_[0]->type();
  return {arrow::MakeArray(data)};
}

}  // namespace millstream
