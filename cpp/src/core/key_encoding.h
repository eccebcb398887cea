// The bytes of a key in keyed state: the key columns of one row, encoded so that equal keys give
// equal bytes, different keys different bytes (unambiguous, and no key's bytes are a prefix of
// another's, so a key can be followed by namespace bytes), and numbers sort as numbers.
//
// Per key column: a marker byte (0x00 null, 0x01 present), then for a present value
//   - signed integers (int8..int64, timestamp, date, time, duration): big-endian at their width,
//     sign bit flipped, so bytewise order is numeric order;
//   - unsigned integers: big-endian at their width;   bool: one byte 0 / 1;
//   - float32 / float64: IEEE bits big-endian, all bits flipped when negative, else the sign bit
//     flipped (numeric order); -0.0 is stored as 0.0 and every NaN as one NaN, because they are
//     one key (the hash in key_groups.h normalises them the same way);
//   - string / binary (and large_*): u32 big-endian length, then the bytes. Strings therefore
//     sort by (length, bytes), not lexicographically: cheaper to encode and decode, and nothing
//     needs string order.
//
// Example:
//   KeyEncoder encoder(*batch, {0, 2});
//   std::string key;
//   for (int64_t row = 0; row < batch->num_rows(); ++row) { key.clear(); encoder.Append(row, &key); ... }
//   KeyDecoder decoder(*batch->schema(), {0, 2});
//   decoder.Append(key);                       // returns the bytes it consumed
//   arrow::ArrayVector key_columns = decoder.Finish();
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/array.h>
#include <arrow/array/builder_base.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

namespace millstream {

// How a key column is hashed and encoded, by physical layout (a timestamp is an int64).
enum class KeyKind : uint8_t {
  kInt8, kInt16, kInt32, kInt64,
  kUInt8, kUInt16, kUInt32, kUInt64,
  kBool, kFloat32, kFloat64,
  kBinary,       // string, binary: int32 offsets
  kLargeBinary,  // large_string, large_binary: int64 offsets
};

// Throws UserTypeError naming the column when its type cannot be a key (lists, structs, ...).
KeyKind KeyKindOf(const arrow::Field& field);

// One key column of one batch, resolved once so that per-row work does no type dispatch on
// Arrow objects. Points into the batch: the batch must outlive it.
struct KeyColumnView {
  KeyKind kind;
  const uint8_t* validity;  // nullptr when the column has no nulls
  int64_t offset;           // the array's offset into its buffers (validity, offsets, values)
  const uint8_t* values;    // fixed-width values (or the bool bitmap), or the string bytes
  const void* offsets;      // int32_t* / int64_t* for strings, else nullptr

  static KeyColumnView Of(const arrow::Array& array, const arrow::Field& field);
  bool IsNull(int64_t row) const {
    if (validity == nullptr) return false;
    const int64_t bit = offset + row;
    return ((validity[bit >> 3] >> (bit & 7)) & 1) == 0;
  }
};

// Appends the encoded key of row `row` (the columns `key_columns` of `batch`) to *out.
void EncodeKey(const arrow::RecordBatch& batch, const std::vector<int>& key_columns, int64_t row,
               std::string* out);

// EncodeKey for many rows of one batch: resolves the columns once.
class KeyEncoder {
 public:
  KeyEncoder(const arrow::RecordBatch& batch, const std::vector<int>& key_columns);
  void Append(int64_t row, std::string* out) const;

 private:
  std::vector<KeyColumnView> columns_;
};

// Decodes encoded keys back into Arrow columns of the key columns' types (for the key columns
// of results). Bytes not made by EncodeKey for this schema are an InternalError.
class KeyDecoder {
 public:
  KeyDecoder(const arrow::Schema& schema, const std::vector<int>& key_columns);
  ~KeyDecoder();
  KeyDecoder(KeyDecoder&&) noexcept;
  KeyDecoder& operator=(KeyDecoder&&) noexcept;

  // Decodes one key from the start of `bytes` (which may continue with namespace bytes) and
  // returns the number of bytes it took.
  size_t Append(std::string_view bytes);
  // The number of bytes of the key at the start of `bytes`, without decoding it.
  size_t KeyLength(std::string_view bytes) const;
  // The key fields (names, types, nullability) in key-column order.
  const std::vector<std::shared_ptr<arrow::Field>>& fields() const { return fields_; }
  int64_t length() const { return length_; }
  // The decoded columns, one per key column; resets the decoder for the next batch.
  arrow::ArrayVector Finish();

 private:
  std::vector<std::shared_ptr<arrow::Field>> fields_;
  std::vector<KeyKind> kinds_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;
  int64_t length_ = 0;
};

}  // namespace millstream
