#include "core/recycling_pool.h"

#include <cstring>

#include <arrow/buffer.h>
#include <gtest/gtest.h>

namespace millstream {
namespace {

TEST(RecyclingPool, BlockSizesAreQuartersOfPowersOfTwo) {
  EXPECT_EQ(RecyclingPool::BlockSize(100), 100);                  // too small: passes through
  EXPECT_EQ(RecyclingPool::BlockSize(65536), 65536);
  EXPECT_EQ(RecyclingPool::BlockSize(65537), 81920);              // 64K + 16K
  EXPECT_EQ(RecyclingPool::BlockSize(200000), 229376);            // 128K + 3 * 32K
  EXPECT_EQ(RecyclingPool::BlockSize(64 << 20), 64 << 20);
  EXPECT_EQ(RecyclingPool::BlockSize((64 << 20) + 1), (64 << 20) + 1);  // too large
  for (int64_t size = 65536; size < (1 << 22); size = size * 9 / 8 + 1) {
    const int64_t block = RecyclingPool::BlockSize(size);
    EXPECT_GE(block, size);
    EXPECT_LE(block, size + size / 4);
  }
}

TEST(RecyclingPool, FreedBlocksServeTheNextAllocationOfTheirClass) {
  RecyclingPool pool(arrow::default_memory_pool(), 1 << 20);
  uint8_t* first = nullptr;
  ASSERT_TRUE(pool.Allocate(250 << 10, arrow::kDefaultBufferAlignment, &first).ok());
  std::memset(first, 7, 250 << 10);
  const int64_t in_use = pool.bytes_allocated();
  pool.Free(first, 250 << 10, arrow::kDefaultBufferAlignment);
  EXPECT_EQ(pool.cached_bytes(), 256 << 10);
  EXPECT_EQ(pool.bytes_allocated(), in_use - (256 << 10));
  uint8_t* second = nullptr;
  ASSERT_TRUE(pool.Allocate(240 << 10, arrow::kDefaultBufferAlignment, &second).ok());
  EXPECT_EQ(second, first);  // same class (224K..256K]: the kept block
  EXPECT_EQ(pool.cached_bytes(), 0);
  uint8_t* other = nullptr;
  ASSERT_TRUE(pool.Allocate(100 << 10, arrow::kDefaultBufferAlignment, &other).ok());
  EXPECT_NE(other, first);
  pool.Free(second, 240 << 10, arrow::kDefaultBufferAlignment);
  pool.Free(other, 100 << 10, arrow::kDefaultBufferAlignment);
  pool.ReleaseUnused();
  EXPECT_EQ(pool.cached_bytes(), 0);
}

TEST(RecyclingPool, KeepsNoMoreThanItsLimit) {
  RecyclingPool pool(arrow::default_memory_pool(), 300 << 10);
  std::vector<uint8_t*> blocks(3);
  for (auto& block : blocks) ASSERT_TRUE(pool.Allocate(128 << 10, arrow::kDefaultBufferAlignment, &block).ok());
  for (auto* block : blocks) pool.Free(block, 128 << 10, arrow::kDefaultBufferAlignment);
  EXPECT_EQ(pool.cached_bytes(), 256 << 10);  // the third went back
}

TEST(RecyclingPool, ReallocateKeepsTheBytesAcrossClasses) {
  RecyclingPool pool(arrow::default_memory_pool(), 8 << 20);
  const int64_t before = pool.bytes_allocated();  // the default pool's other users
  auto buffer = arrow::AllocateResizableBuffer(1000, &pool).ValueOrDie();  // passes through
  std::memset(buffer->mutable_data(), 1, 1000);
  ASSERT_TRUE(buffer->Resize(70000).ok());   // into a recycled class
  EXPECT_EQ(buffer->data()[999], 1);
  std::memset(buffer->mutable_data(), 2, 70000);
  ASSERT_TRUE(buffer->Resize(80000).ok());   // same block (64K..80K]
  ASSERT_TRUE(buffer->Resize(300000).ok());  // another class
  EXPECT_EQ(buffer->data()[69999], 2);
  ASSERT_TRUE(buffer->Resize(100, /*shrink_to_fit=*/true).ok());  // back out of the classes
  EXPECT_EQ(buffer->data()[99], 2);
  buffer.reset();
  EXPECT_EQ(pool.bytes_allocated(), before);
}

}  // namespace
}  // namespace millstream
