// The keys a keyed aggregation holds state for, interned into dense "key slots" so the rest of
// the operator works with small integers. A key slot lives while something references it
// (windows, sessions, running totals): Retain/Release count the references, and Sweep removes
// the slots without any ("idle"), once there are more than the caller wants to keep: keys that
// come back soon keep their slot instead of being removed and interned again.
//
// A single 64-bit integer key (int64, timestamp, ...) takes a specialised path: the value is the
// hash-table key and is never encoded per row. Other keys are encoded with KeyEncoder (the bytes
// the state backend stores) and interned by those bytes.
//
// Example:
//   KeyTable keys(schema, {0});
//   std::vector<uint32_t> slots;
//   keys.Lookup(*batch, key_groups, &slots);   // slots[i]: row i's key slot
//   keys.Retain(slots[0]);                     // a window of that key now exists
//   keys.Sweep();                              // slots nothing retained are dropped
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include "core/key_encoding.h"
#include "ops/probe_table.h"

namespace millstream {

class KeyTable {
 public:
  // `payload_bytes`: room per slot for the operator's own data (payload<T>()), kept next to the
  // slot's bookkeeping so that a row's key costs one cache line; zeroed for a new slot.
  KeyTable(const arrow::Schema& schema, std::vector<int> key_columns, size_t payload_bytes = 0);

  // Row i's key slot into (*slots)[i], creating slots for new keys (with key_groups[i]).
  void Lookup(const arrow::RecordBatch& batch, const std::vector<uint16_t>& key_groups,
              std::vector<uint32_t>* slots);
  // The slot of an encoded key (from the state backend), created when absent.
  uint32_t LookupEncoded(std::string_view key_bytes, uint16_t key_group);

  void Retain(uint32_t slot) {
    if (info(slot).references++ == 0) --idle_;
  }
  void Release(uint32_t slot) {
    MS_CHECK(info(slot).references > 0, "key slot released more often than retained");
    if (--info(slot).references == 0) {
      ++idle_;
      unreferenced_.push_back(slot);
    }
  }
  // Drops all slots that nothing references (made by Lookup or released to zero) when there
  // are more than `keep_idle` of them.
  void Sweep(size_t keep_idle = 0);
  size_t idle_slots() const { return idle_; }

  uint16_t key_group(uint32_t slot) const { return info(slot).key_group; }
  // Appends the slot's key as the state backend stores it (KeyEncoder bytes).
  void AppendEncoded(uint32_t slot, std::string* out) const;
  // Orders two slots of one key group deterministically (by value for an int64 key, by bytes
  // otherwise): output order must not depend on hash-table layout.
  bool Less(uint32_t a, uint32_t b) const;
  size_t live_slots() const { return live_; }
  // Slots ever made (slot ids are below this): for per-slot side tables.
  size_t slot_capacity() const { return slot_count_; }
  void PrefetchSlot(uint32_t slot) const {
    __builtin_prefetch(&info(slot));
    if (stride_ > 64) __builtin_prefetch(reinterpret_cast<const uint8_t*>(&info(slot)) + 64);
  }
  bool in_use(uint32_t slot) const { return slot < slot_count_ && info(slot).in_use; }
  template <typename T>
  T& payload(uint32_t slot) {
    static_assert(std::is_trivially_copyable_v<T>);
    return *reinterpret_cast<T*>(reinterpret_cast<uint8_t*>(&info(slot)) + sizeof(SlotInfo));
  }
  size_t memory_bytes() const;

  // Key columns of results: Append each result row's key (by slot or by encoded bytes), then
  // Finish builds one array per key column.
  class Builder {
   public:
    explicit Builder(const KeyTable& table);
    void AppendSlot(uint32_t slot);
    void AppendEncoded(std::string_view key_bytes);
    arrow::ArrayVector Finish();

   private:
    const KeyTable& table_;
    std::vector<int64_t> values_;     // the int64 path
    std::vector<uint8_t> valid_;
    std::unique_ptr<KeyDecoder> decoder_;
  };

  const std::vector<std::shared_ptr<arrow::Field>>& fields() const { return fields_; }

 private:
  struct IntEntry {
    int64_t value = 0;
    uint32_t slot = 0xffffffffu;
    bool empty() const { return slot == 0xffffffffu; }
  };
  struct BytesEntry {
    uint64_t hash = 0;
    uint32_t slot = 0xffffffffu;
    bool empty() const { return slot == 0xffffffffu; }
  };
  static uint64_t HashInt(int64_t value) { return MixHash(static_cast<uint64_t>(value)); }
  uint32_t NewSlot(uint16_t key_group);
  uint32_t InternInt(int64_t value, uint16_t key_group);
  uint32_t InternNull(uint16_t key_group);
  uint32_t InternBytes(std::string_view bytes, uint16_t key_group);
  void Remove(uint32_t slot);

  std::vector<int> key_columns_;
  std::vector<std::shared_ptr<arrow::Field>> fields_;
  bool single_int64_ = false;
  std::shared_ptr<arrow::Schema> schema_;

  ProbeTable<IntEntry> ints_;
  ProbeTable<BytesEntry> bytes_table_;
  uint32_t null_slot_ = 0xffffffffu;  // the int64 path's null key

  // Per slot: what the hot paths read together, in one cache line access.
  struct SlotInfo {
    int64_t int_value = 0;  // the int64 path's key
    uint32_t references = 0;
    uint16_t key_group = 0;
    uint8_t is_null = 0;
    uint8_t in_use = 0;
  };
  SlotInfo& info(uint32_t slot) {
    return *reinterpret_cast<SlotInfo*>(reinterpret_cast<uint8_t*>(slot_lines_.data()) + slot * stride_);
  }
  const SlotInfo& info(uint32_t slot) const {
    return *reinterpret_cast<const SlotInfo*>(reinterpret_cast<const uint8_t*>(slot_lines_.data()) +
                                              slot * stride_);
  }
  struct alignas(64) CacheLine {
    uint8_t bytes[64];
  };
  std::vector<CacheLine> slot_lines_;  // SlotInfo + payload per slot, `stride_` bytes apart
  size_t stride_ = sizeof(SlotInfo);
  size_t slot_count_ = 0;
  std::vector<std::string> bytes_;  // the encoded-key path's key
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> unreferenced_;
  size_t live_ = 0;
  size_t idle_ = 0;  // live slots without references
  std::string scratch_;
};

}  // namespace millstream
