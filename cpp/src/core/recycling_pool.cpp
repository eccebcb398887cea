#include "core/recycling_pool.h"

#include <bit>
#include <cstring>

namespace millstream {

namespace {

constexpr int kQuarters = 4;  // size classes per doubling

// log2 of a power of two
int Log2(uint64_t power) { return std::countr_zero(power); }

}  // namespace

RecyclingPool::RecyclingPool(arrow::MemoryPool* underlying, int64_t max_cached_bytes)
    : underlying_(underlying),
      max_cached_bytes_(max_cached_bytes),
      free_(static_cast<size_t>((Log2(kMaxBlock) - Log2(kMinBlock) + 1) * kQuarters)) {}

RecyclingPool::~RecyclingPool() { ReleaseUnused(); }

bool RecyclingPool::Recycled(int64_t size, int64_t alignment) {
  return size >= kMinBlock && size <= kMaxBlock && alignment == arrow::kDefaultBufferAlignment;
}

int64_t RecyclingPool::BlockSize(int64_t size) {
  if (size < kMinBlock || size > kMaxBlock) return size;
  // the power of two at or above `size`, in steps of a quarter of the one below it
  const int64_t power = static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(size)));
  const int64_t step = power / 2 / kQuarters;
  return (size + step - 1) / step * step;
}

size_t RecyclingPool::ClassOf(int64_t block_size) {
  // block_size = power/2 + k * step with k in 1..kQuarters (power = bit_ceil(block_size))
  const int64_t power = static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(block_size)));
  const int64_t step = power / 2 / kQuarters;
  const int64_t k = (block_size - power / 2) / step;  // 1..kQuarters
  return static_cast<size_t>((Log2(static_cast<uint64_t>(power)) - Log2(kMinBlock)) * kQuarters + (k - 1));
}

arrow::Status RecyclingPool::Allocate(int64_t size, int64_t alignment, uint8_t** out) {
  if (!Recycled(size, alignment)) return underlying_->Allocate(size, alignment, out);
  const int64_t block = BlockSize(size);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& list = free_[ClassOf(block)];
    if (!list.empty()) {
      *out = list.back();
      list.pop_back();
      cached_bytes_ -= block;
      return arrow::Status::OK();
    }
  }
  return underlying_->Allocate(block, alignment, out);
}

void RecyclingPool::Free(uint8_t* buffer, int64_t size, int64_t alignment) {
  if (!Recycled(size, alignment)) {
    underlying_->Free(buffer, size, alignment);
    return;
  }
  const int64_t block = BlockSize(size);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_bytes_ + block <= max_cached_bytes_) {
      free_[ClassOf(block)].push_back(buffer);
      cached_bytes_ += block;
      return;
    }
  }
  underlying_->Free(buffer, block, alignment);
}

arrow::Status RecyclingPool::Reallocate(int64_t old_size, int64_t new_size, int64_t alignment,
                                        uint8_t** ptr) {
  const bool old_recycled = Recycled(old_size, alignment);
  const bool new_recycled = Recycled(new_size, alignment);
  if (!old_recycled && !new_recycled) {
    return underlying_->Reallocate(old_size, new_size, alignment, ptr);
  }
  if (old_recycled && new_recycled && BlockSize(old_size) == BlockSize(new_size)) {
    return arrow::Status::OK();  // the block has room
  }
  uint8_t* moved = nullptr;
  ARROW_RETURN_NOT_OK(Allocate(new_size, alignment, &moved));
  std::memcpy(moved, *ptr, static_cast<size_t>(std::min(old_size, new_size)));
  Free(*ptr, old_size, alignment);
  *ptr = moved;
  return arrow::Status::OK();
}

void RecyclingPool::ReleaseUnused() {
  std::vector<std::pair<uint8_t*, int64_t>> blocks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t c = 0; c < free_.size(); ++c) {
      const int64_t power = kMinBlock << (c / kQuarters);
      const int64_t block = power / 2 + static_cast<int64_t>(c % kQuarters + 1) * (power / 2 / kQuarters);
      for (uint8_t* buffer : free_[c]) blocks.emplace_back(buffer, block);
      free_[c].clear();
    }
    cached_bytes_ = 0;
  }
  for (auto [buffer, block] : blocks) underlying_->Free(buffer, block, arrow::kDefaultBufferAlignment);
  underlying_->ReleaseUnused();
}

int64_t RecyclingPool::bytes_allocated() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return underlying_->bytes_allocated() - cached_bytes_;
}

int64_t RecyclingPool::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_bytes_;
}

arrow::MemoryPool* EnginePool() {
  // Lives as long as the process (buffers may outlive any run); 64 MB holds the batches in
  // flight of a run with room to spare.
#if defined(__SANITIZE_ADDRESS__)
  return arrow::default_memory_pool();  // kept blocks would hide use-after-free from ASan
#else
  static auto* pool = new RecyclingPool(arrow::default_memory_pool(), 64 << 20);
  return pool;
#endif
}

}  // namespace millstream
