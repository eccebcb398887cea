// An Arrow memory pool that keeps freed blocks of 64 KB to 64 MB for the next allocation of the
// same size class, instead of handing them back to the allocator underneath.
//
// Why: batches are allocated on one thread and freed on another (a keyed exchange gathers each
// subtask's rows on the sending thread; the subtask frees them). Arrow's mimalloc then returns
// the pages to the kernel and the next batch faults fresh, zeroed pages back in: at P=2 the page
// faults of the exchange's gathers cost as much CPU as the copying (perf, a session window at
// P=2). Kept blocks stay mapped, so a run reuses the same few megabytes of batches: that session
// window at P=2 took 53-54 K page faults instead of 71-72 K (perf stat over
// `benchmarks/warm_runs.py session 2 3 --rows 50000000`; its CPU time varied by 20% between
// identical runs on this VM, more than the difference).
//
// Sizes are rounded up to a quarter of a power of two (at most 25% slack); smaller and larger
// blocks, and alignments other than Arrow's default, pass through. At most `max_cached_bytes`
// are kept; beyond that blocks go back to the underlying pool. Thread-safe.
//
// Example:
//   RecyclingPool pool(arrow::default_memory_pool(), 64 << 20);
//   auto buffer = arrow::AllocateBuffer(256 << 10, &pool);   // a block of 256 KB
//   buffer->reset();                                          // kept
//   buffer = arrow::AllocateBuffer(250 << 10, &pool);         // the same block again
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <arrow/memory_pool.h>

namespace millstream {

class RecyclingPool final : public arrow::MemoryPool {
 public:
  static constexpr int64_t kMinBlock = 64 << 10;
  static constexpr int64_t kMaxBlock = 64 << 20;

  RecyclingPool(arrow::MemoryPool* underlying, int64_t max_cached_bytes);
  ~RecyclingPool() override;

  using arrow::MemoryPool::Allocate;
  using arrow::MemoryPool::Free;
  using arrow::MemoryPool::Reallocate;
  arrow::Status Allocate(int64_t size, int64_t alignment, uint8_t** out) override;
  arrow::Status Reallocate(int64_t old_size, int64_t new_size, int64_t alignment,
                           uint8_t** ptr) override;
  void Free(uint8_t* buffer, int64_t size, int64_t alignment) override;
  void ReleaseUnused() override;  // hands every kept block back

  int64_t bytes_allocated() const override;  // in use by callers, not the kept blocks
  int64_t total_bytes_allocated() const override { return underlying_->total_bytes_allocated(); }
  int64_t num_allocations() const override { return underlying_->num_allocations(); }
  std::string backend_name() const override { return "recycling+" + underlying_->backend_name(); }

  int64_t cached_bytes() const;
  // The block size that serves `size` (the size itself when it is not recycled).
  static int64_t BlockSize(int64_t size);

 private:
  static bool Recycled(int64_t size, int64_t alignment);
  static size_t ClassOf(int64_t block_size);

  arrow::MemoryPool* underlying_;
  const int64_t max_cached_bytes_;
  mutable std::mutex mutex_;
  std::vector<std::vector<uint8_t*>> free_;  // per size class
  int64_t cached_bytes_ = 0;
};

// The pool the engine allocates batches from: a RecyclingPool over Arrow's default pool (the
// default pool itself under AddressSanitizer, so that use-after-free stays visible).
arrow::MemoryPool* EnginePool();

}  // namespace millstream
