#include "core/key_groups.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace millstream {

namespace {

// The constants are part of the on-disk format (key groups of checkpointed state): never change
// them without a migration.
constexpr uint64_t kSeed = 0x2545F4914F6CDD1DULL;
constexpr uint64_t kNullHash = 0x9AE16A3B2F90404FULL;
constexpr uint64_t kBytesSeed = 0xC3A5C85C97CB3127ULL;
constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;

// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDULL;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ULL;
  x ^= x >> 33;
  return x;
}

// Little-endian loads, so that string hashes are the same on any machine.
inline uint64_t LoadLittle64(const uint8_t* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, 8);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

inline uint64_t LoadLittleTail(const uint8_t* bytes, size_t length) {
  uint64_t word = 0;
  for (size_t i = 0; i < length; ++i) word |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  return word;
}

// Bytes -> 64 bits, eight bytes a round (xxHash64-style rounds, then the Murmur finaliser).
uint64_t HashBytes(const uint8_t* bytes, size_t length) {
  uint64_t hash = kBytesSeed ^ (static_cast<uint64_t>(length) * kPrime1);
  size_t position = 0;
  for (; position + 8 <= length; position += 8) {
    hash ^= std::rotl(LoadLittle64(bytes + position) * kPrime2, 31) * kPrime1;
    hash = std::rotl(hash, 27) * kPrime1 + kPrime2;
  }
  if (position < length) {
    hash ^= std::rotl(LoadLittleTail(bytes + position, length - position) * kPrime2, 31) * kPrime1;
    hash = std::rotl(hash, 27) * kPrime1 + kPrime2;
  }
  return Mix64(hash);
}

inline uint64_t FloatValueHash(double value) {
  if (value == 0) return 0;  // -0.0 and 0.0 are one key
  if (std::isnan(value)) return 0x7FF8000000000000ULL;
  return std::bit_cast<uint64_t>(value);
}

constexpr int64_t kChunkRows = 1024;  // hashes of a chunk stay in L1

// Combines column `column`'s value hashes of rows [begin, begin + count) into hashes[0, count).
// `first`: the column is the first key column (the running hash starts at kSeed).
template <typename ValueHash>
void CombineColumn(const KeyColumnView& column, int64_t begin, int64_t count, bool first,
                   ValueHash value_hash, uint64_t* hashes) {
  if (column.validity == nullptr) {
    if (first) {
      for (int64_t i = 0; i < count; ++i) hashes[i] = Mix64(kSeed ^ value_hash(begin + i));
    } else {
      for (int64_t i = 0; i < count; ++i) hashes[i] = Mix64(hashes[i] ^ value_hash(begin + i));
    }
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t value = column.IsNull(begin + i) ? kNullHash : value_hash(begin + i);
    hashes[i] = Mix64((first ? kSeed : hashes[i]) ^ value);
  }
}

template <typename T>
auto IntegerHash(const KeyColumnView& column) {
  const T* values = reinterpret_cast<const T*>(column.values) + column.offset;
  // Sign- or zero-extends to 64 bits: the hash does not depend on the width.
  if constexpr (std::is_signed_v<T>) {
    return [values](int64_t row) { return static_cast<uint64_t>(static_cast<int64_t>(values[row])); };
  } else {
    return [values](int64_t row) { return static_cast<uint64_t>(values[row]); };
  }
}

void CombineChunk(const KeyColumnView& column, int64_t begin, int64_t count, bool first,
                  uint64_t* hashes) {
  switch (column.kind) {
    case KeyKind::kInt8: return CombineColumn(column, begin, count, first, IntegerHash<int8_t>(column), hashes);
    case KeyKind::kInt16: return CombineColumn(column, begin, count, first, IntegerHash<int16_t>(column), hashes);
    case KeyKind::kInt32: return CombineColumn(column, begin, count, first, IntegerHash<int32_t>(column), hashes);
    case KeyKind::kInt64: return CombineColumn(column, begin, count, first, IntegerHash<int64_t>(column), hashes);
    case KeyKind::kUInt8: return CombineColumn(column, begin, count, first, IntegerHash<uint8_t>(column), hashes);
    case KeyKind::kUInt16: return CombineColumn(column, begin, count, first, IntegerHash<uint16_t>(column), hashes);
    case KeyKind::kUInt32: return CombineColumn(column, begin, count, first, IntegerHash<uint32_t>(column), hashes);
    case KeyKind::kUInt64: return CombineColumn(column, begin, count, first, IntegerHash<uint64_t>(column), hashes);
    case KeyKind::kBool: {
      const uint8_t* bits = column.values;
      const int64_t offset = column.offset;
      return CombineColumn(column, begin, count, first, [bits, offset](int64_t row) {
        const int64_t bit = offset + row;
        return static_cast<uint64_t>((bits[bit >> 3] >> (bit & 7)) & 1);
      }, hashes);
    }
    case KeyKind::kFloat32: {
      const float* values = reinterpret_cast<const float*>(column.values) + column.offset;
      return CombineColumn(column, begin, count, first, [values](int64_t row) {
        return FloatValueHash(static_cast<double>(values[row]));
      }, hashes);
    }
    case KeyKind::kFloat64: {
      const double* values = reinterpret_cast<const double*>(column.values) + column.offset;
      return CombineColumn(column, begin, count, first, [values](int64_t row) {
        return FloatValueHash(values[row]);
      }, hashes);
    }
    case KeyKind::kBinary: {
      const int32_t* offsets = static_cast<const int32_t*>(column.offsets) + column.offset;
      const uint8_t* data = column.values;
      return CombineColumn(column, begin, count, first, [offsets, data](int64_t row) {
        return HashBytes(data + offsets[row], static_cast<size_t>(offsets[row + 1] - offsets[row]));
      }, hashes);
    }
    case KeyKind::kLargeBinary: {
      const int64_t* offsets = static_cast<const int64_t*>(column.offsets) + column.offset;
      const uint8_t* data = column.values;
      return CombineColumn(column, begin, count, first, [offsets, data](int64_t row) {
        return HashBytes(data + offsets[row], static_cast<size_t>(offsets[row + 1] - offsets[row]));
      }, hashes);
    }
  }
}

std::vector<KeyColumnView> ViewsOf(const arrow::RecordBatch& batch,
                                   const std::vector<int>& key_columns) {
  std::vector<KeyColumnView> views;
  views.reserve(key_columns.size());
  for (int column : key_columns) {
    MS_CHECK(column >= 0 && column < batch.num_columns(), "key column index out of range");
    views.push_back(KeyColumnView::Of(*batch.column(column), *batch.schema()->field(column)));
  }
  return views;
}

// Hashes rows [begin, begin + count) (count <= kChunkRows) over all key columns.
void HashChunk(const std::vector<KeyColumnView>& views, int64_t begin, int64_t count,
               uint64_t* hashes) {
  if (views.empty()) {
    std::fill(hashes, hashes + count, kSeed);
    return;
  }
  for (size_t i = 0; i < views.size(); ++i) CombineChunk(views[i], begin, count, i == 0, hashes);
}

// x % divisor without a division (Lemire, Kaser, Kurz: "Faster remainder by direct
// computation", 2019): exact for every 32-bit x and divisor.
class FastModulo {
 public:
  explicit FastModulo(uint32_t divisor)
      : divisor_(divisor), multiplier_(std::numeric_limits<uint64_t>::max() / divisor + 1) {}
  uint32_t operator()(uint32_t x) const {
    const uint64_t low_bits = multiplier_ * x;
    return static_cast<uint32_t>((static_cast<unsigned __int128>(low_bits) * divisor_) >> 64);
  }

 private:
  uint64_t divisor_;
  uint64_t multiplier_;
};

// The key group uses the hash's upper 32 bits: Mix64 mixes every bit, and a 32-bit remainder
// avoids a 64-bit division per row.
inline uint32_t KeyGroupBits(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }

void CheckMaxParallelism(int max_parallelism) {
  MS_CHECK(max_parallelism >= 1 && max_parallelism <= kMaxKeyGroups,
           "max_parallelism must be in [1, 65536], got " + std::to_string(max_parallelism));
}

}  // namespace

void HashKeys(const arrow::RecordBatch& batch, const std::vector<int>& key_columns,
              std::vector<uint64_t>* hashes) {
  const std::vector<KeyColumnView> views = ViewsOf(batch, key_columns);
  const int64_t num_rows = batch.num_rows();
  hashes->resize(num_rows);
  for (int64_t begin = 0; begin < num_rows; begin += kChunkRows) {
    HashChunk(views, begin, std::min(kChunkRows, num_rows - begin), hashes->data() + begin);
  }
}

void ComputeKeyGroups(const arrow::RecordBatch& batch, const std::vector<int>& key_columns,
                      int max_parallelism, std::vector<uint16_t>* key_groups) {
  CheckMaxParallelism(max_parallelism);
  const std::vector<KeyColumnView> views = ViewsOf(batch, key_columns);
  const int64_t num_rows = batch.num_rows();
  key_groups->resize(num_rows);
  uint16_t* out = key_groups->data();
  uint64_t hashes[kChunkRows];
  const bool power_of_two = std::has_single_bit(static_cast<uint32_t>(max_parallelism));
  const uint32_t mask = static_cast<uint32_t>(max_parallelism) - 1;
  const FastModulo modulo(static_cast<uint32_t>(max_parallelism));
  for (int64_t begin = 0; begin < num_rows; begin += kChunkRows) {
    const int64_t count = std::min(kChunkRows, num_rows - begin);
    HashChunk(views, begin, count, hashes);
    if (power_of_two) {
      for (int64_t i = 0; i < count; ++i) out[begin + i] = static_cast<uint16_t>(KeyGroupBits(hashes[i]) & mask);
    } else {
      for (int64_t i = 0; i < count; ++i) out[begin + i] = static_cast<uint16_t>(modulo(KeyGroupBits(hashes[i])));
    }
  }
}

int KeyGroupOfHash(uint64_t hash, int max_parallelism) {
  CheckMaxParallelism(max_parallelism);
  return static_cast<int>(KeyGroupBits(hash) % static_cast<uint32_t>(max_parallelism));
}

int SubtaskOfKeyGroup(int key_group, int parallelism, int max_parallelism) {
  return static_cast<int>(static_cast<int64_t>(key_group) * parallelism / max_parallelism);
}

std::pair<int, int> KeyGroupRange(int subtask, int parallelism, int max_parallelism) {
  MS_CHECK(parallelism >= 1 && subtask >= 0 && subtask < parallelism,
           "subtask " + std::to_string(subtask) + " of parallelism " + std::to_string(parallelism));
  // The smallest key group g with g * P / M >= s is ceil(s * M / P).
  auto first_of = [&](int64_t s) {
    return static_cast<int>((s * max_parallelism + parallelism - 1) / parallelism);
  };
  return {first_of(subtask), first_of(subtask + 1)};
}

void AppendKeyGroup(int key_group, std::string* out) {
  out->push_back(static_cast<char>((key_group >> 8) & 0xFF));
  out->push_back(static_cast<char>(key_group & 0xFF));
}

int ReadKeyGroup(std::string_view state_key) {
  MS_CHECK(state_key.size() >= 2, "state key shorter than its key group prefix");
  return (static_cast<uint8_t>(state_key[0]) << 8) | static_cast<uint8_t>(state_key[1]);
}

namespace state_keys {

void AppendTime(std::string* out, int64_t time_ms) {
  uint64_t bits = static_cast<uint64_t>(time_ms) ^ (1ull << 63);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(bits >> (56 - 8 * i)));
}

int64_t ReadTime(std::string_view bytes) {
  MS_CHECK(bytes.size() >= 8, "state key without a time");
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(bytes[i]);
  return static_cast<int64_t>(bits ^ (1ull << 63));
}

}  // namespace state_keys

}  // namespace millstream
