#include "ops/accumulator_rows.h"

#include <algorithm>
#include <cstring>

#include <arrow/builder.h>

#include "core/error.h"

namespace millstream {

AccumulatorLayout::AccumulatorLayout(std::vector<std::unique_ptr<AggregateFunction>> functions)
    : functions_(std::move(functions)) {
  size_t offset = sizeof(GroupHeader);
  for (const auto& function : functions_) {
    MS_CHECK(function->state_bytes() % 8 == 0, "aggregate state size must be a multiple of 8");
    offsets_.push_back(offset);
    offset += function->state_bytes();
    owns_heap_ = owns_heap_ || function->owns_heap();
  }
  row_bytes_ = offset;
}

void AccumulatorLayout::Init(uint8_t* row) const {
  std::memset(row, 0, sizeof(GroupHeader));
  for (size_t i = 0; i < functions_.size(); ++i) functions_[i]->Init(row + offsets_[i]);
}

void AccumulatorLayout::Destroy(uint8_t* row, int64_t* heap_bytes) const {
  if (!owns_heap_) return;
  for (size_t i = 0; i < functions_.size(); ++i) {
    functions_[i]->Destroy(row + offsets_[i], heap_bytes);
  }
}

void AccumulatorLayout::Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const {
  GroupHeader* target = header(into);
  const GroupHeader* source = header(from);
  if (source->rows > 0) {
    target->first_seq = target->rows > 0 ? std::min(target->first_seq, source->first_seq)
                                         : source->first_seq;
  }
  target->rows += source->rows;
  target->emitted |= source->emitted;
  for (size_t i = 0; i < functions_.size(); ++i) {
    functions_[i]->Merge(into + offsets_[i], from + offsets_[i], heap_bytes);
  }
}

void AccumulatorLayout::Serialize(const uint8_t* row, std::string* out) const {
  out->append(reinterpret_cast<const char*>(row), sizeof(GroupHeader));
  for (size_t i = 0; i < functions_.size(); ++i) {
    functions_[i]->Serialize(row + offsets_[i], out);
  }
}

void AccumulatorLayout::Deserialize(std::string_view bytes, uint8_t* row,
                                    int64_t* heap_bytes) const {
  aggregate_detail::ReadBytes(&bytes, row, sizeof(GroupHeader));
  for (size_t i = 0; i < functions_.size(); ++i) {
    functions_[i]->Deserialize(&bytes, row + offsets_[i], heap_bytes);
  }
  MS_CHECK(bytes.empty(), "accumulator state longer than its layout");
}

std::vector<std::unique_ptr<arrow::ArrayBuilder>> AccumulatorLayout::MakeBuilders() const {
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
  for (const auto& function : functions_) {
    builders.push_back(CheckArrow(arrow::MakeBuilder(function->output_type()), "builder"));
  }
  return builders;
}

void AccumulatorLayout::Finalize(
    const uint8_t* row, const std::vector<std::unique_ptr<arrow::ArrayBuilder>>& builders) const {
  for (size_t i = 0; i < functions_.size(); ++i) {
    functions_[i]->Finalize(row + offsets_[i], builders[i].get());
  }
}

GroupRows::~GroupRows() {
  if (!layout_.owns_heap()) return;
  int64_t heap_bytes = 0;
  for (uint32_t group = 0; group < allocated_; ++group) {
    if (in_use_[group]) layout_.Destroy(row(group), &heap_bytes);
  }
}

uint32_t GroupRows::Allocate() {
  uint32_t group;
  if (!free_.empty()) {
    group = free_.back();
    free_.pop_back();
  } else {
    group = allocated_++;
    MS_CHECK(allocated_ != 0xffffffffu, "too many live groups");
    size_t words = layout_.row_bytes() / 8;
    if (storage_.size() < allocated_ * words) {
      storage_.resize(std::max<size_t>(allocated_ * words, storage_.size() * 2));
    }
    in_use_.push_back(0);
  }
  in_use_[group] = 1;
  ++live_;
  layout_.Init(row(group));
  return group;
}

void GroupRows::Free(uint32_t group, int64_t* heap_bytes) {
  MS_CHECK(group < allocated_ && in_use_[group], "freeing a group that is not live");
  layout_.Destroy(row(group), heap_bytes);
  in_use_[group] = 0;
  free_.push_back(group);
  --live_;
}

}  // namespace millstream
