#include "expr/row_selection.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <bit>
#include <cstring>

#include <arrow/compute/api_vector.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/bitmap_generate.h>
#include <arrow/util/bitmap_ops.h>

#include "core/error.h"
#include "expr/kernel_support.h"

namespace millstream::expr {

namespace {

template <typename T>
std::shared_ptr<arrow::Buffer> GatherFixed(const arrow::ArrayData& column, const RowSelection& selection) {
  const T* in = column.GetValues<T>(1);
  const int32_t* rows = selection.data();
  auto buffer = AllocateBytes(selection.count * static_cast<int64_t>(sizeof(T)));
  T* out = buffer->mutable_data_as<T>();
  for (int64_t k = 0; k < selection.count; ++k) out[k] = in[rows[k]];
  return buffer;
}

#if MS_HAVE_AVX512_BUILD
// One load per register of `column`, compressed into each part by its bitmap (the parts are
// disjoint, so each row is stored once).
//
// kStream writes the parts with non-temporal stores: each part's compressed values collect in a
// register and go out 64 aligned bytes at a time. A keyed exchange's parts are read later by
// other threads, and plain stores first read every destination line into the cache (a line that
// is then evicted, written back and read again by the subtask): docs/design-notes.md. A part
// that is read at once (a filter's selection) is better in cache: plain stores.
template <typename T, bool kStream>
MS_TARGET_AVX512 std::vector<std::shared_ptr<arrow::Buffer>> SplitFixedAvx512(
    const arrow::ArrayData& column, const std::vector<RowSelection>& parts) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  constexpr int64_t kLanes = 64 / sizeof(T);
  const size_t n = parts.size();
  const T* in = column.GetValues<T>(1);
  const int64_t length = column.length;
  std::vector<std::shared_ptr<arrow::Buffer>> buffers(n);
  std::vector<T*> out(n);
  std::vector<const uint8_t*> bits(n);
  std::vector<int64_t> written(n, 0);
  // kStream: per part, a register's worth of values waiting to go out (the first `fill` lanes)
  std::shared_ptr<arrow::Buffer> stage_buffer;
  __m512i* stages = nullptr;
  std::vector<int> fill;
  if constexpr (kStream) {
    stage_buffer = AllocateBytes(static_cast<int64_t>(n) * 64);
    stages = reinterpret_cast<__m512i*>(stage_buffer->mutable_data());
    for (size_t p = 0; p < n; ++p) stages[p] = _mm512_setzero_si512();
    fill.assign(n, 0);
  }
  for (size_t p = 0; p < n; ++p) {
    buffers[p] = AllocateBytes(parts[p].count * static_cast<int64_t>(sizeof(T)) + 64);
    out[p] = buffers[p]->mutable_data_as<T>();
    bits[p] = parts[p].bitmap->data();
    MS_CHECK(!kStream || reinterpret_cast<uintptr_t>(out[p]) % 64 == 0, "a 64-byte aligned buffer");
  }
  int64_t row = 0;
  for (; row + kLanes <= length; row += kLanes) {
    const __m512i values = _mm512_loadu_si512(in + row);
    for (size_t p = 0; p < n; ++p) {
      uint32_t mask;
      __m512i packed;
      if constexpr (sizeof(T) == 8) {
        mask = bits[p][row / 8];
        packed = _mm512_maskz_compress_epi64(static_cast<__mmask8>(mask), values);
      } else {
        uint16_t mask16;
        std::memcpy(&mask16, bits[p] + row / 8, 2);
        mask = mask16;
        packed = _mm512_maskz_compress_epi32(static_cast<__mmask16>(mask), values);
      }
      const int count = std::popcount(mask);
      if constexpr (kStream) {
        // Append the packed lanes to the stage; a full stage goes out, and the lanes that did
        // not fit start the next one.
        const uint32_t lanes = (1u << count) - 1;
        const uint32_t place = lanes << fill[p];  // lanes beyond kLanes: dropped by the mask type
        if constexpr (sizeof(T) == 8) {
          stages[p] = _mm512_mask_expand_epi64(stages[p], static_cast<__mmask8>(place), packed);
        } else {
          stages[p] = _mm512_mask_expand_epi32(stages[p], static_cast<__mmask16>(place), packed);
        }
        fill[p] += count;
        if (fill[p] >= kLanes) {
          _mm512_stream_si512(reinterpret_cast<__m512i*>(out[p] + written[p]), stages[p]);
          written[p] += kLanes;
          fill[p] -= kLanes;
          const uint32_t rest = lanes & ~((1u << (count - fill[p])) - 1);
          if constexpr (sizeof(T) == 8) {
            stages[p] = _mm512_maskz_compress_epi64(static_cast<__mmask8>(rest), packed);
          } else {
            stages[p] = _mm512_maskz_compress_epi32(static_cast<__mmask16>(rest), packed);
          }
        }
      } else {
        _mm512_storeu_si512(out[p] + written[p], packed);
        written[p] += count;
      }
    }
  }
  if constexpr (kStream) {
    _mm_sfence();  // the streamed lines are visible before the parts are handed to other threads
    for (size_t p = 0; p < n; ++p) {
      std::memcpy(out[p] + written[p], &stages[p], fill[p] * sizeof(T));
      written[p] += fill[p];
    }
  }
  for (; row < length; ++row) {
    for (size_t p = 0; p < n; ++p) {
      if (arrow::bit_util::GetBit(bits[p], row)) out[p][written[p]++] = in[row];
    }
  }
  for (size_t p = 0; p < n; ++p) {
    MS_CHECK(written[p] == parts[p].count, "split row count");
    buffers[p] = arrow::SliceBuffer(std::move(buffers[p]), 0, written[p] * static_cast<int64_t>(sizeof(T)));
  }
  return buffers;
}
#endif

// Compress when the selection keeps at least a quarter of the rows (every row is read either
// way; a sparse selection gathers fewer), else gather.
template <typename T>
std::shared_ptr<arrow::Buffer> SelectFixed(const arrow::ArrayData& column, const RowSelection& selection) {
#if MS_HAVE_AVX512_BUILD
  if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
    if (selection.bitmap && selection.count * 4 >= column.length && HasAvx512()) {
      // A single part: each register's selected lanes compressed into a register, then one
      // store (compress-to-memory is slow on AMD Zen 4).
      return SplitFixedAvx512<T, false>(column, {selection}).front();
    }
  }
#endif
  return GatherFixed<T>(column, selection);
}

std::shared_ptr<arrow::Buffer> GatherBits(const uint8_t* bitmap, int64_t bit_offset,
                                          const RowSelection& selection) {
  const int32_t* rows = selection.data();
  auto buffer = AllocateBitmap(selection.count);
  int64_t k = 0;
  arrow::internal::GenerateBitsUnrolled(buffer->mutable_data(), 0, selection.count, [&] {
    return arrow::bit_util::GetBit(bitmap, bit_offset + rows[k++]);
  });
  return buffer;
}

// Two passes: the output offsets, then the bytes into a buffer of exactly their size (one pass
// into an upper-bound buffer measured the same before shrinking it, and a shrink costs a copy).
// A string of up to 16 bytes is copied as one 16-byte move when both buffers have room for it
// (Arrow pads its buffers; a foreign buffer might not be, hence the bounds check): measured
// ~3x faster than a memcpy call per string for short strings.
template <typename Offset>
std::vector<std::shared_ptr<arrow::Buffer>> GatherStrings(const arrow::ArrayData& column,
                                                          const RowSelection& selection) {
  constexpr int64_t kShortCopy = 16;
  const Offset* in_offsets = column.GetValues<Offset>(1);
  const uint8_t* in_data = column.buffers[2] ? column.buffers[2]->data() : nullptr;
  int64_t in_capacity = column.buffers[2] ? column.buffers[2]->size() : 0;
  const int32_t* rows = selection.data();
  auto offsets_buffer = AllocateBytes((selection.count + 1) * static_cast<int64_t>(sizeof(Offset)));
  Offset* out_offsets = offsets_buffer->mutable_data_as<Offset>();
  out_offsets[0] = 0;
  for (int64_t k = 0; k < selection.count; ++k) {
    int32_t row = rows[k];
    out_offsets[k + 1] = out_offsets[k] + (in_offsets[row + 1] - in_offsets[row]);
  }
  Offset total = out_offsets[selection.count];
  auto data_buffer = CheckArrow(arrow::AllocateBuffer(total + kShortCopy, Pool()), "allocating gathered strings");
  uint8_t* out_data = data_buffer->mutable_data();
  for (int64_t k = 0; k < selection.count; ++k) {
    Offset begin = in_offsets[rows[k]];
    Offset length = out_offsets[k + 1] - out_offsets[k];
    if (length <= kShortCopy && begin + kShortCopy <= in_capacity) {
      std::memcpy(out_data + out_offsets[k], in_data + begin, kShortCopy);
    } else {
      std::memcpy(out_data + out_offsets[k], in_data + begin, length);
    }
  }
  std::shared_ptr<arrow::Buffer> data = std::move(data_buffer);
  return {std::move(offsets_buffer), arrow::SliceBuffer(data, 0, total)};
}

}  // namespace

namespace {

// Appends the positions of the set bits; returns how many. Writes up to 16 entries past the
// count (the caller allocates the room).
int64_t ExpandBits(const uint8_t* bitmap, int64_t length, int32_t* out) {
  int64_t written = 0;
  int64_t full_words = length / 64;
  for (int64_t w = 0; w < full_words; ++w) {
    uint64_t word;
    std::memcpy(&word, bitmap + w * 8, 8);
    while (word != 0) {
      out[written++] = static_cast<int32_t>(w * 64 + std::countr_zero(word));
      word &= word - 1;
    }
  }
  for (int64_t i = full_words * 64; i < length; ++i) {
    if (arrow::bit_util::GetBit(bitmap, i)) out[written++] = static_cast<int32_t>(i);
  }
  return written;
}

#if MS_HAVE_AVX512_BUILD
// 16 rows at a time: compress the row numbers of the set bits and store all 16 lanes
// (compress into a register, then a plain store: compress-to-memory is slow on AMD Zen 4).
MS_TARGET_AVX512 int64_t ExpandBitsAvx512(const uint8_t* bitmap, int64_t length, int32_t* out) {
  int64_t written = 0;
  __m512i rows = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  int64_t full_blocks = length / 16;
  for (int64_t block = 0; block < full_blocks; ++block) {
    uint16_t mask;
    std::memcpy(&mask, bitmap + block * 2, 2);
    _mm512_storeu_si512(out + written, _mm512_maskz_compress_epi32(mask, rows));
    written += __builtin_popcount(mask);
    rows = _mm512_add_epi32(rows, step);
  }
  for (int64_t i = full_blocks * 16; i < length; ++i) {
    if (arrow::bit_util::GetBit(bitmap, i)) out[written++] = static_cast<int32_t>(i);
  }
  return written;
}
#endif

}  // namespace

RowSelection SelectionFromBitmap(const uint8_t* bitmap, int64_t length) {
  MS_CHECK(length <= INT32_MAX - 16, "a batch has fewer than 2^31 - 16 rows");
  int64_t count = arrow::internal::CountSetBits(bitmap, 0, length);
  if (count == 0 || count == length) return RowSelection{nullptr, count, nullptr};
  auto indices = CheckArrow(arrow::AllocateResizableBuffer((count + 16) * 4, Pool()), "allocating a selection");
  int32_t* out = indices->mutable_data_as<int32_t>();
#if MS_HAVE_AVX512_BUILD
  int64_t written = HasAvx512() ? ExpandBitsAvx512(bitmap, length, out) : ExpandBits(bitmap, length, out);
#else
  int64_t written = ExpandBits(bitmap, length, out);
#endif
  MS_CHECK(written == count, "selection count");
  return RowSelection{std::move(indices), count, nullptr};
}

RowSelection SelectionFromBitmap(std::shared_ptr<arrow::Buffer> bitmap, int64_t length) {
  RowSelection selection = SelectionFromBitmap(bitmap->data(), length);
  if (selection.indices) selection.bitmap = std::move(bitmap);
  return selection;
}

namespace {

#if MS_HAVE_AVX512_BUILD
// 32 values a compare.
MS_TARGET_AVX512 void RangeBitsAvx512(const uint16_t* values, int64_t length, uint16_t first,
                                      uint16_t end, uint8_t* bitmap) {
  const __m512i low = _mm512_set1_epi16(static_cast<int16_t>(first));
  const __m512i width = _mm512_set1_epi16(static_cast<int16_t>(end - first));
  int64_t row = 0;
  for (; row + 32 <= length; row += 32) {
    const __m512i shifted = _mm512_sub_epi16(_mm512_loadu_si512(values + row), low);
    const uint32_t mask = _mm512_cmplt_epu16_mask(shifted, width);
    std::memcpy(bitmap + row / 8, &mask, 4);
  }
  for (; row < length; ++row) {
    arrow::bit_util::SetBitTo(bitmap, row, static_cast<uint16_t>(values[row] - first) < end - first);
  }
}
#endif

}  // namespace

RowSelection SelectionInRange(const uint16_t* values, int64_t length, uint16_t first, uint16_t end) {
  auto bitmap = AllocateBitmap(length);
#if MS_HAVE_AVX512_BUILD
  if (HasAvx512()) {
    RangeBitsAvx512(values, length, first, end, bitmap->mutable_data());
    return SelectionFromBitmap(std::move(bitmap), length);
  }
#endif
  const uint16_t width = end - first;
  int64_t row = 0;
  arrow::internal::GenerateBitsUnrolled(bitmap->mutable_data(), 0, length, [&] {
    return static_cast<uint16_t>(values[row++] - first) < width;
  });
  return SelectionFromBitmap(std::move(bitmap), length);
}

RowSelection SelectionFromMask(const arrow::Array& mask) {
  MS_CHECK(mask.type_id() == arrow::Type::BOOL, "a filter mask is bool, got " + mask.type()->ToString());
  const arrow::ArrayData& data = *mask.data();
  int64_t length = data.length;
  // true AND valid, as one bitmap starting at bit 0
  std::shared_ptr<arrow::Buffer> bits;
  if (data.GetNullCount() > 0) {
    bits = CheckArrow(arrow::internal::BitmapAnd(Pool(), data.buffers[1]->data(), data.offset,
                                                 data.buffers[0]->data(), data.offset, length, 0),
                      "masking nulls of a filter");
  } else if (data.offset % 8 == 0) {
    bits = arrow::SliceBuffer(data.buffers[1], data.offset / 8);
  } else {
    bits = CheckArrow(arrow::internal::CopyBitmap(Pool(), data.buffers[1]->data(), data.offset, length),
                      "copying a filter mask");
  }
  return SelectionFromBitmap(std::move(bits), length);
}

std::shared_ptr<arrow::Array> TakeSelected(const arrow::Array& column, const RowSelection& selection) {
  const arrow::ArrayData& data = *column.data();
  if (selection.count == data.length) return column.Slice(0);
  const arrow::DataType& type = *data.type;
  std::shared_ptr<arrow::Buffer> validity;
  if (data.GetNullCount() > 0 && type.id() != arrow::Type::NA) {
    validity = GatherBits(data.buffers[0]->data(), data.offset, selection);
  }
  int64_t null_count = validity ? arrow::kUnknownNullCount : 0;
  auto make = [&](std::vector<std::shared_ptr<arrow::Buffer>> buffers) {
    buffers.insert(buffers.begin(), validity);
    return arrow::MakeArray(arrow::ArrayData::Make(data.type, selection.count, std::move(buffers), null_count));
  };
  switch (type.id()) {
    case arrow::Type::NA:
      return arrow::MakeArray(arrow::ArrayData::Make(data.type, selection.count, {nullptr}, selection.count));
    case arrow::Type::BOOL:
      return make({GatherBits(data.buffers[1]->data(), data.offset, selection)});
    case arrow::Type::STRING: case arrow::Type::BINARY:
      return make(GatherStrings<int32_t>(data, selection));
    case arrow::Type::LARGE_STRING: case arrow::Type::LARGE_BINARY:
      return make(GatherStrings<int64_t>(data, selection));
    case arrow::Type::STRING_VIEW: case arrow::Type::BINARY_VIEW: {
      // 16-byte views point into the character buffers, which are shared as they are (Arrow 26
      // has no Take kernel for views).
      struct View { uint64_t low, high; };
      static_assert(sizeof(View) == 16);
      std::vector<std::shared_ptr<arrow::Buffer>> buffers = {GatherFixed<View>(data, selection)};
      buffers.insert(buffers.end(), data.buffers.begin() + 2, data.buffers.end());
      return make(std::move(buffers));
    }
    default:
      break;
  }
  if (arrow::is_primitive(type.id()) && data.buffers.size() == 2) {
    switch (type.byte_width()) {
      case 1: return make({GatherFixed<uint8_t>(data, selection)});
      case 2: return make({GatherFixed<uint16_t>(data, selection)});
      case 4: return make({SelectFixed<uint32_t>(data, selection)});
      case 8: return make({SelectFixed<uint64_t>(data, selection)});
      default: break;
    }
  }
  // Nested, dictionary, decimal...: Arrow's Take over the same row numbers.
  auto indices = arrow::MakeArray(arrow::ArrayData::Make(arrow::int32(), selection.count,
                                                         {nullptr, selection.indices}, 0));
  EnsureComputeInitialized();
  return CheckArrow(arrow::compute::Take(column, *indices, arrow::compute::TakeOptions::NoBoundsCheck()),
                    "taking selected rows");
}

std::vector<BatchPtr> TakeSelectedRowsForEach(const BatchPtr& batch,
                                              const std::vector<RowSelection>& parts) {
  bool all_bitmaps = true;
  for (const RowSelection& part : parts) all_bitmaps = all_bitmaps && part.bitmap;
  std::vector<arrow::ArrayVector> columns(parts.size());
  for (int i = 0; i < batch->num_columns(); ++i) {
    const arrow::ArrayData& data = *batch->column(i)->data();
    const int width = arrow::is_primitive(data.type->id()) && data.buffers.size() == 2
                          ? data.type->byte_width() : 0;
#if MS_HAVE_AVX512_BUILD
    if (all_bitmaps && (width == 4 || width == 8) && HasAvx512()) {
      auto values = width == 8 ? SplitFixedAvx512<uint64_t, true>(data, parts)
                                : SplitFixedAvx512<uint32_t, true>(data, parts);
      const bool nulls = data.GetNullCount() > 0;
      for (size_t p = 0; p < parts.size(); ++p) {
        auto validity = nulls ? GatherBits(data.buffers[0]->data(), data.offset, parts[p]) : nullptr;
        columns[p].push_back(arrow::MakeArray(arrow::ArrayData::Make(
            data.type, parts[p].count, {std::move(validity), std::move(values[p])},
            nulls ? arrow::kUnknownNullCount : 0)));
      }
      continue;
    }
#endif
    for (size_t p = 0; p < parts.size(); ++p) columns[p].push_back(TakeSelected(*batch->column(i), parts[p]));
  }
  std::vector<BatchPtr> batches;
  for (size_t p = 0; p < parts.size(); ++p) {
    batches.push_back(arrow::RecordBatch::Make(batch->schema(), parts[p].count, std::move(columns[p])));
  }
  return batches;
}

BatchPtr TakeSelectedRows(const BatchPtr& batch, const RowSelection& selection) {
  if (selection.count == batch->num_rows()) return batch;
  if (selection.count == 0) return batch->Slice(0, 0);
  arrow::ArrayVector columns;
  columns.reserve(batch->num_columns());
  for (int i = 0; i < batch->num_columns(); ++i) columns.push_back(TakeSelected(*batch->column(i), selection));
  return arrow::RecordBatch::Make(batch->schema(), selection.count, std::move(columns));
}

}  // namespace millstream::expr
