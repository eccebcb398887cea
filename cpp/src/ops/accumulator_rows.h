// The accumulators of one keyed aggregation, one fixed-width row per group (a window of a key,
// a pane, a session, a key's running totals): a header, then each aggregate's state at its
// offset. Rows live in one array indexed by group id, so a batch update is a typed loop per
// aggregate over a group id per row (AggregateFunction::Update).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/array/builder_base.h>

#include "ops/aggregate_function.h"

namespace millstream {

// Stored at the start of every row (and serialised with it).
struct GroupHeader {
  int64_t rows;       // rows added, nulls included: a group with rows is a window to emit
  int64_t first_seq;  // arrival sequence number of the first row: the output order
  uint32_t emitted;   // emitted before: the next emission is an update (is_update)
  uint32_t touched;   // batch number of the last row (which groups to write back first)
};

class AccumulatorLayout {
 public:
  explicit AccumulatorLayout(std::vector<std::unique_ptr<AggregateFunction>> functions);

  size_t row_bytes() const { return row_bytes_; }
  size_t size() const { return functions_.size(); }
  const AggregateFunction& function(size_t i) const { return *functions_[i]; }
  size_t offset(size_t i) const { return offsets_[i]; }
  bool owns_heap() const { return owns_heap_; }

  void Init(uint8_t* row) const;
  void Destroy(uint8_t* row, int64_t* heap_bytes) const;
  // into += from (from unchanged); headers: rows add, first_seq is the earlier, emitted ors.
  void Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const;
  void Serialize(const uint8_t* row, std::string* out) const;
  void Deserialize(std::string_view bytes, uint8_t* row, int64_t* heap_bytes) const;
  // One builder per aggregate, then Finalize appends a row's results to them.
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> MakeBuilders() const;
  void Finalize(const uint8_t* row,
                const std::vector<std::unique_ptr<arrow::ArrayBuilder>>& builders) const;

  static GroupHeader* header(uint8_t* row) { return reinterpret_cast<GroupHeader*>(row); }
  static const GroupHeader* header(const uint8_t* row) {
    return reinterpret_cast<const GroupHeader*>(row);
  }

 private:
  std::vector<std::unique_ptr<AggregateFunction>> functions_;
  std::vector<size_t> offsets_;
  size_t row_bytes_ = 0;
  bool owns_heap_ = false;
};

// Rows of live groups, with a free list: group ids are reused, rows move when the array grows
// (states hold no pointers into rows).
class GroupRows {
 public:
  explicit GroupRows(const AccumulatorLayout& layout) : layout_(layout) {}
  ~GroupRows();
  GroupRows(const GroupRows&) = delete;
  GroupRows& operator=(const GroupRows&) = delete;

  // A new, initialised group.
  uint32_t Allocate();
  void Free(uint32_t group, int64_t* heap_bytes);

  uint8_t* row(uint32_t group) { return base() + static_cast<size_t>(group) * layout_.row_bytes(); }
  GroupHeader* header(uint32_t group) { return AccumulatorLayout::header(row(group)); }
  const GroupHeader* header(uint32_t group) const {
    return AccumulatorLayout::header(base() + static_cast<size_t>(group) * layout_.row_bytes());
  }
  StateRows states(size_t aggregate) {
    return StateRows{base() + layout_.offset(aggregate), layout_.row_bytes()};
  }
  size_t live() const { return live_; }
  bool in_use(uint32_t group) const { return group < allocated_ && in_use_[group]; }
  void PrefetchInUse(uint32_t group) const { __builtin_prefetch(&in_use_[group]); }
  // Groups ever allocated (ids are below this).
  uint32_t capacity() const { return allocated_; }

 private:
  uint8_t* base() { return reinterpret_cast<uint8_t*>(storage_.data()); }
  const uint8_t* base() const { return reinterpret_cast<const uint8_t*>(storage_.data()); }
  const AccumulatorLayout& layout_;
  std::vector<uint64_t> storage_;  // 8-byte aligned rows
  std::vector<uint32_t> free_;
  std::vector<uint8_t> in_use_;
  uint32_t allocated_ = 0;
  size_t live_ = 0;
};

}  // namespace millstream
