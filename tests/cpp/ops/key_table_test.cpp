// Key interning: equal keys share a slot, slots live while referenced, the int64 fast path
// stores the same bytes as KeyEncoder, and keys decode back to their columns.
#include "ops/key_table.h"

#include <map>
#include <optional>
#include <set>
#include <random>

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/key_encoding.h"

namespace millstream {
namespace {

BatchPtr IntStringBatch(const std::vector<std::optional<int64_t>>& ints,
                        const std::vector<std::optional<std::string>>& strings) {
  arrow::Int64Builder a;
  arrow::StringBuilder b;
  for (size_t i = 0; i < ints.size(); ++i) {
    CheckArrow(ints[i] ? a.Append(*ints[i]) : a.AppendNull(), "a");
    CheckArrow(strings[i] ? b.Append(*strings[i]) : b.AppendNull(), "b");
  }
  auto schema = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::utf8())});
  return arrow::RecordBatch::Make(schema, static_cast<int64_t>(ints.size()),
                                  {CheckArrow(a.Finish(), "a"), CheckArrow(b.Finish(), "b")});
}

TEST(KeyTable, EqualKeysShareASlotOnBothPaths) {
  std::mt19937_64 random(1);
  std::vector<std::optional<int64_t>> ints;
  std::vector<std::optional<std::string>> strings;
  for (int i = 0; i < 5000; ++i) {
    int64_t v = std::uniform_int_distribution<int64_t>(-300, 300)(random);
    ints.push_back(v % 50 == 0 ? std::nullopt : std::optional<int64_t>(v * 1'000'000'007));
    strings.push_back(v % 7 == 0 ? std::nullopt : std::optional<std::string>(std::string(v % 13 + 13, 'x') + std::to_string(v)));
  }
  auto batch = IntStringBatch(ints, strings);
  std::vector<uint16_t> groups(batch->num_rows(), 3);
  for (std::vector<int> columns : {std::vector<int>{0}, std::vector<int>{1}, std::vector<int>{0, 1}}) {
    KeyTable table(*batch->schema(), columns);
    std::vector<uint32_t> slots;
    table.Lookup(*batch, groups, &slots);
    std::map<std::string, uint32_t> slot_of_key;
    KeyEncoder encoder(*batch, columns);
    for (int64_t i = 0; i < batch->num_rows(); ++i) {
      std::string key;
      encoder.Append(i, &key);
      auto [it, inserted] = slot_of_key.emplace(key, slots[i]);
      EXPECT_EQ(it->second, slots[i]) << "row " << i;
      // The slot's stored bytes are KeyEncoder's, on the int64 path too.
      std::string stored;
      table.AppendEncoded(slots[i], &stored);
      EXPECT_EQ(stored, key);
      EXPECT_EQ(table.LookupEncoded(key, 3), slots[i]);
    }
    std::set<uint32_t> distinct(slots.begin(), slots.end());
    EXPECT_EQ(distinct.size(), slot_of_key.size());
    EXPECT_EQ(table.live_slots(), slot_of_key.size());
    // Keys decode back to their values, from slots and from bytes alike.
    KeyTable::Builder builder(table);
    for (int64_t i = 0; i < 50; ++i) builder.AppendSlot(slots[i]);
    for (int64_t i = 0; i < 50; ++i) {
      std::string key;
      encoder.Append(i, &key);
      builder.AppendEncoded(key);
    }
    arrow::ArrayVector columns_out = builder.Finish();
    ASSERT_EQ(columns_out.size(), columns.size());
    for (size_t c = 0; c < columns.size(); ++c) {
      auto original = batch->column(columns[c])->Slice(0, 50);
      EXPECT_TRUE(columns_out[c]->Slice(0, 50)->Equals(*original)) << columns_out[c]->ToString();
      EXPECT_TRUE(columns_out[c]->Slice(50, 50)->Equals(*original));
    }
    // Nothing retained: a sweep drops every slot.
    table.Sweep();
    EXPECT_EQ(table.live_slots(), 0u);
  }
}

TEST(KeyTable, SlotsLiveWhileRetained) {
  auto batch = IntStringBatch({1, 2, 3, 2}, {"a", "b", "c", "b"});
  std::vector<uint16_t> groups = {0, 1, 2, 1};
  KeyTable table(*batch->schema(), {0});
  std::vector<uint32_t> slots;
  table.Lookup(*batch, groups, &slots);
  EXPECT_EQ(slots[1], slots[3]);
  EXPECT_EQ(table.key_group(slots[2]), 2);
  table.Retain(slots[1]);
  table.Retain(slots[1]);
  table.Sweep();
  EXPECT_EQ(table.live_slots(), 1u);
  table.Release(slots[1]);
  table.Sweep();
  EXPECT_EQ(table.live_slots(), 1u);
  table.Release(slots[1]);
  table.Sweep();
  EXPECT_EQ(table.live_slots(), 0u);
  // A freed slot can come back for another key; the old key is gone.
  std::vector<uint32_t> again;
  table.Lookup(*batch, groups, &again);
  EXPECT_EQ(table.live_slots(), 3u);
  EXPECT_TRUE(table.Less(again[0], again[1]));
}

TEST(KeyTable, RejectsKeyTypesThatCannotBeKeys) {
  auto schema = arrow::schema({arrow::field("l", arrow::list(arrow::int64()))});
  EXPECT_THROW(KeyTable(*schema, {0}), UserTypeError);
}

}  // namespace
}  // namespace millstream
