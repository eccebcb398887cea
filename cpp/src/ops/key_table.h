// The keys a keyed aggregation holds state for, interned into dense "key slots" so the rest of
// the operator works with small integers. A key slot lives while something references it
// (windows, sessions, running totals): Retain/Release count the references and a slot without
// any is removed at the end of the batch that made it (Sweep).
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
#include <vector>

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include "core/key_encoding.h"
#include "ops/probe_table.h"

namespace millstream {

class KeyTable {
 public:
  KeyTable(const arrow::Schema& schema, std::vector<int> key_columns);

  // Row i's key slot into (*slots)[i], creating slots for new keys (with key_groups[i]).
  void Lookup(const arrow::RecordBatch& batch, const std::vector<uint16_t>& key_groups,
              std::vector<uint32_t>* slots);
  // The slot of an encoded key (from the state backend), created when absent.
  uint32_t LookupEncoded(std::string_view key_bytes, uint16_t key_group);

  void Retain(uint32_t slot) { ++references_[slot]; }
  void Release(uint32_t slot) {
    MS_CHECK(references_[slot] > 0, "key slot released more often than retained");
    if (--references_[slot] == 0) unreferenced_.push_back(slot);
  }
  // Drops the slots that nothing references (made by Lookup or released to zero).
  void Sweep();

  uint16_t key_group(uint32_t slot) const { return key_groups_[slot]; }
  // Appends the slot's key as the state backend stores it (KeyEncoder bytes).
  void AppendEncoded(uint32_t slot, std::string* out) const;
  // Orders two slots of one key group deterministically (by value for an int64 key, by bytes
  // otherwise): output order must not depend on hash-table layout.
  bool Less(uint32_t a, uint32_t b) const;
  size_t live_slots() const { return live_; }
  // Slots ever made (slot ids are below this): for per-slot side tables.
  size_t slot_capacity() const { return key_groups_.size(); }
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
  static uint64_t HashBytes(std::string_view bytes);
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

  // Per slot.
  std::vector<int64_t> int_values_;
  std::vector<uint8_t> is_null_;
  std::vector<std::string> bytes_;
  std::vector<uint16_t> key_groups_;
  std::vector<uint32_t> references_;
  std::vector<uint8_t> in_use_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> unreferenced_;
  size_t live_ = 0;
  std::string scratch_;
};

}  // namespace millstream
