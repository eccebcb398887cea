#include "core/key_encoding.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include <arrow/array/builder_binary.h>
#include <arrow/array/builder_primitive.h>
#include <arrow/builder.h>

#include "core/error.h"

namespace millstream {

namespace {

constexpr char kNullMarker = 0x00;
constexpr char kPresentMarker = 0x01;

template <typename Unsigned>
void AppendBigEndian(Unsigned value, std::string* out) {
  char bytes[sizeof(Unsigned)];
  for (size_t i = 0; i < sizeof(Unsigned); ++i) {
    bytes[i] = static_cast<char>(value >> (8 * (sizeof(Unsigned) - 1 - i)));
  }
  out->append(bytes, sizeof(Unsigned));
}

template <typename Unsigned>
Unsigned ReadBigEndian(const char* bytes) {
  Unsigned value = 0;
  for (size_t i = 0; i < sizeof(Unsigned); ++i) {
    value = static_cast<Unsigned>((value << 8) | static_cast<uint8_t>(bytes[i]));
  }
  return value;
}

template <typename Signed>
void AppendSigned(Signed value, std::string* out) {
  using Unsigned = std::make_unsigned_t<Signed>;
  constexpr Unsigned kSignBit = Unsigned{1} << (8 * sizeof(Signed) - 1);
  AppendBigEndian<Unsigned>(static_cast<Unsigned>(static_cast<Unsigned>(value) ^ kSignBit), out);
}

template <typename Signed>
Signed ReadSigned(const char* bytes) {
  using Unsigned = std::make_unsigned_t<Signed>;
  constexpr Unsigned kSignBit = Unsigned{1} << (8 * sizeof(Signed) - 1);
  return static_cast<Signed>(static_cast<Unsigned>(ReadBigEndian<Unsigned>(bytes) ^ kSignBit));
}

// Float bits whose unsigned order is the numeric order; one key for -0.0 / 0.0 and for all NaNs.
template <typename Float, typename Bits>
Bits OrderedFloatBits(Float value) {
  if (value == 0) value = 0;  // -0.0 -> 0.0
  if (std::isnan(value)) value = std::numeric_limits<Float>::quiet_NaN();
  const Bits bits = std::bit_cast<Bits>(value);
  constexpr Bits kSignBit = Bits{1} << (8 * sizeof(Bits) - 1);
  return (bits & kSignBit) ? static_cast<Bits>(~bits) : static_cast<Bits>(bits | kSignBit);
}

template <typename Float, typename Bits>
Float FloatFromOrderedBits(Bits ordered) {
  constexpr Bits kSignBit = Bits{1} << (8 * sizeof(Bits) - 1);
  const Bits bits = (ordered & kSignBit) ? static_cast<Bits>(ordered ^ kSignBit)
                                         : static_cast<Bits>(~ordered);
  return std::bit_cast<Float>(bits);
}

size_t FixedWidth(KeyKind kind) {
  switch (kind) {
    case KeyKind::kInt8: case KeyKind::kUInt8: case KeyKind::kBool: return 1;
    case KeyKind::kInt16: case KeyKind::kUInt16: return 2;
    case KeyKind::kInt32: case KeyKind::kUInt32: case KeyKind::kFloat32: return 4;
    case KeyKind::kInt64: case KeyKind::kUInt64: case KeyKind::kFloat64: return 8;
    case KeyKind::kBinary: case KeyKind::kLargeBinary: return 0;
  }
  return 0;
}

template <typename T>
T Load(const uint8_t* values, int64_t index) {
  T value;
  std::memcpy(&value, values + index * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return value;
}

void AppendValue(const KeyColumnView& column, int64_t row, std::string* out) {
  if (column.IsNull(row)) {
    out->push_back(kNullMarker);
    return;
  }
  out->push_back(kPresentMarker);
  const int64_t index = column.offset + row;
  switch (column.kind) {
    case KeyKind::kInt8: AppendSigned(Load<int8_t>(column.values, index), out); return;
    case KeyKind::kInt16: AppendSigned(Load<int16_t>(column.values, index), out); return;
    case KeyKind::kInt32: AppendSigned(Load<int32_t>(column.values, index), out); return;
    case KeyKind::kInt64: AppendSigned(Load<int64_t>(column.values, index), out); return;
    case KeyKind::kUInt8: AppendBigEndian(Load<uint8_t>(column.values, index), out); return;
    case KeyKind::kUInt16: AppendBigEndian(Load<uint16_t>(column.values, index), out); return;
    case KeyKind::kUInt32: AppendBigEndian(Load<uint32_t>(column.values, index), out); return;
    case KeyKind::kUInt64: AppendBigEndian(Load<uint64_t>(column.values, index), out); return;
    case KeyKind::kBool:
      out->push_back(static_cast<char>((column.values[index >> 3] >> (index & 7)) & 1));
      return;
    case KeyKind::kFloat32:
      AppendBigEndian(OrderedFloatBits<float, uint32_t>(Load<float>(column.values, index)), out);
      return;
    case KeyKind::kFloat64:
      AppendBigEndian(OrderedFloatBits<double, uint64_t>(Load<double>(column.values, index)), out);
      return;
    case KeyKind::kBinary: {
      const auto* offsets = static_cast<const int32_t*>(column.offsets);
      const int64_t begin = offsets[index];
      const int64_t length = offsets[index + 1] - begin;
      AppendBigEndian(static_cast<uint32_t>(length), out);
      out->append(reinterpret_cast<const char*>(column.values) + begin, length);
      return;
    }
    case KeyKind::kLargeBinary: {
      const auto* offsets = static_cast<const int64_t*>(column.offsets);
      const int64_t begin = offsets[index];
      const int64_t length = offsets[index + 1] - begin;
      if (length > std::numeric_limits<uint32_t>::max()) {
        throw UserError("a key value of " + std::to_string(length) +
                        " bytes is too large: keys are limited to 4 GiB per column");
      }
      AppendBigEndian(static_cast<uint32_t>(length), out);
      out->append(reinterpret_cast<const char*>(column.values) + begin, length);
      return;
    }
  }
}

// Bytes the value of `kind` takes at the start of `bytes` (after its marker), checked.
size_t ValueLength(KeyKind kind, std::string_view bytes) {
  size_t width = FixedWidth(kind);
  if (width == 0) {
    MS_CHECK(bytes.size() >= 4, "encoded key truncated in a string length");
    width = 4 + ReadBigEndian<uint32_t>(bytes.data());
  }
  MS_CHECK(bytes.size() >= width, "encoded key truncated in a value");
  return width;
}

template <typename BuilderType, typename Value>
void AppendTo(arrow::ArrayBuilder* builder, Value value) {
  CheckArrow(static_cast<BuilderType*>(builder)->Append(value), "decoding a key");
}

void DecodeValue(KeyKind kind, const char* bytes, size_t length, arrow::ArrayBuilder* builder) {
  // The builder's type may be a logical type on top of the physical one (timestamp on int64),
  // so the value is appended through the builder of that logical type.
  switch (kind) {
    case KeyKind::kInt8: AppendTo<arrow::Int8Builder>(builder, ReadSigned<int8_t>(bytes)); return;
    case KeyKind::kInt16: AppendTo<arrow::Int16Builder>(builder, ReadSigned<int16_t>(bytes)); return;
    case KeyKind::kUInt8: AppendTo<arrow::UInt8Builder>(builder, ReadBigEndian<uint8_t>(bytes)); return;
    case KeyKind::kUInt16: AppendTo<arrow::UInt16Builder>(builder, ReadBigEndian<uint16_t>(bytes)); return;
    case KeyKind::kUInt32: AppendTo<arrow::UInt32Builder>(builder, ReadBigEndian<uint32_t>(bytes)); return;
    case KeyKind::kUInt64: AppendTo<arrow::UInt64Builder>(builder, ReadBigEndian<uint64_t>(bytes)); return;
    case KeyKind::kBool: AppendTo<arrow::BooleanBuilder>(builder, bytes[0] != 0); return;
    case KeyKind::kFloat32:
      AppendTo<arrow::FloatBuilder>(builder, FloatFromOrderedBits<float>(ReadBigEndian<uint32_t>(bytes)));
      return;
    case KeyKind::kFloat64:
      AppendTo<arrow::DoubleBuilder>(builder, FloatFromOrderedBits<double>(ReadBigEndian<uint64_t>(bytes)));
      return;
    case KeyKind::kInt32: {
      const int32_t value = ReadSigned<int32_t>(bytes);
      switch (builder->type()->id()) {
        case arrow::Type::DATE32: AppendTo<arrow::Date32Builder>(builder, value); return;
        case arrow::Type::TIME32: AppendTo<arrow::Time32Builder>(builder, value); return;
        default: AppendTo<arrow::Int32Builder>(builder, value); return;
      }
    }
    case KeyKind::kInt64: {
      const int64_t value = ReadSigned<int64_t>(bytes);
      switch (builder->type()->id()) {
        case arrow::Type::TIMESTAMP: AppendTo<arrow::TimestampBuilder>(builder, value); return;
        case arrow::Type::DATE64: AppendTo<arrow::Date64Builder>(builder, value); return;
        case arrow::Type::TIME64: AppendTo<arrow::Time64Builder>(builder, value); return;
        case arrow::Type::DURATION: AppendTo<arrow::DurationBuilder>(builder, value); return;
        default: AppendTo<arrow::Int64Builder>(builder, value); return;
      }
    }
    case KeyKind::kBinary: case KeyKind::kLargeBinary: {
      const std::string_view value(bytes + 4, length - 4);
      switch (builder->type()->id()) {
        case arrow::Type::STRING: AppendTo<arrow::StringBuilder>(builder, value); return;
        case arrow::Type::BINARY: AppendTo<arrow::BinaryBuilder>(builder, value); return;
        case arrow::Type::LARGE_STRING: AppendTo<arrow::LargeStringBuilder>(builder, value); return;
        default: AppendTo<arrow::LargeBinaryBuilder>(builder, value); return;
      }
    }
  }
}

}  // namespace

KeyKind KeyKindOf(const arrow::Field& field) {
  switch (field.type()->id()) {
    case arrow::Type::INT8: return KeyKind::kInt8;
    case arrow::Type::INT16: return KeyKind::kInt16;
    case arrow::Type::INT32: case arrow::Type::DATE32: case arrow::Type::TIME32:
      return KeyKind::kInt32;
    case arrow::Type::INT64: case arrow::Type::TIMESTAMP: case arrow::Type::DATE64:
    case arrow::Type::TIME64: case arrow::Type::DURATION:
      return KeyKind::kInt64;
    case arrow::Type::UINT8: return KeyKind::kUInt8;
    case arrow::Type::UINT16: return KeyKind::kUInt16;
    case arrow::Type::UINT32: return KeyKind::kUInt32;
    case arrow::Type::UINT64: return KeyKind::kUInt64;
    case arrow::Type::BOOL: return KeyKind::kBool;
    case arrow::Type::FLOAT: return KeyKind::kFloat32;
    case arrow::Type::DOUBLE: return KeyKind::kFloat64;
    case arrow::Type::STRING: case arrow::Type::BINARY: return KeyKind::kBinary;
    case arrow::Type::LARGE_STRING: case arrow::Type::LARGE_BINARY: return KeyKind::kLargeBinary;
    default:
      throw UserTypeError("key column '" + field.name() + "' has type " +
                          field.type()->ToString() +
                          ", which cannot be a key: use integer, float, bool, string, binary, "
                          "timestamp or date columns (cast it, e.g. col(\"" + field.name() +
                          "\").cast(ms.string))");
  }
}

KeyColumnView KeyColumnView::Of(const arrow::Array& array, const arrow::Field& field) {
  KeyColumnView view;
  view.kind = KeyKindOf(field);
  const arrow::ArrayData& data = *array.data();
  view.validity = (array.null_count() > 0 && data.buffers[0]) ? data.buffers[0]->data() : nullptr;
  view.offset = data.offset;
  if (view.kind == KeyKind::kBinary || view.kind == KeyKind::kLargeBinary) {
    view.offsets = data.buffers[1]->data();
    view.values = data.buffers[2] ? data.buffers[2]->data() : nullptr;
  } else {
    view.offsets = nullptr;
    view.values = data.buffers[1]->data();
  }
  return view;
}

void EncodeKey(const arrow::RecordBatch& batch, const std::vector<int>& key_columns, int64_t row,
               std::string* out) {
  for (int column : key_columns) {
    AppendValue(KeyColumnView::Of(*batch.column(column), *batch.schema()->field(column)), row, out);
  }
}

KeyEncoder::KeyEncoder(const arrow::RecordBatch& batch, const std::vector<int>& key_columns) {
  columns_.reserve(key_columns.size());
  for (int column : key_columns) {
    columns_.push_back(KeyColumnView::Of(*batch.column(column), *batch.schema()->field(column)));
  }
}

void KeyEncoder::Append(int64_t row, std::string* out) const {
  for (const KeyColumnView& column : columns_) AppendValue(column, row, out);
}

KeyDecoder::KeyDecoder(const arrow::Schema& schema, const std::vector<int>& key_columns) {
  for (int column : key_columns) {
    const auto& field = schema.field(column);
    fields_.push_back(field);
    kinds_.push_back(KeyKindOf(*field));
    builders_.push_back(CheckArrow(arrow::MakeBuilder(field->type()), "making a key builder"));
  }
}

KeyDecoder::~KeyDecoder() = default;
KeyDecoder::KeyDecoder(KeyDecoder&&) noexcept = default;
KeyDecoder& KeyDecoder::operator=(KeyDecoder&&) noexcept = default;

size_t KeyDecoder::Append(std::string_view bytes) {
  size_t position = 0;
  for (size_t i = 0; i < kinds_.size(); ++i) {
    MS_CHECK(position < bytes.size(), "encoded key truncated before a null marker");
    const char marker = bytes[position++];
    if (marker == kNullMarker) {
      CheckArrow(builders_[i]->AppendNull(), "decoding a key");
      continue;
    }
    MS_CHECK(marker == kPresentMarker, "encoded key has a bad null marker");
    const size_t length = ValueLength(kinds_[i], bytes.substr(position));
    DecodeValue(kinds_[i], bytes.data() + position, length, builders_[i].get());
    position += length;
  }
  ++length_;
  return position;
}

size_t KeyDecoder::KeyLength(std::string_view bytes) const {
  size_t position = 0;
  for (KeyKind kind : kinds_) {
    MS_CHECK(position < bytes.size(), "encoded key truncated before a null marker");
    if (bytes[position++] == kNullMarker) continue;
    position += ValueLength(kind, bytes.substr(position));
  }
  return position;
}

arrow::ArrayVector KeyDecoder::Finish() {
  arrow::ArrayVector columns;
  columns.reserve(builders_.size());
  for (auto& builder : builders_) {
    columns.push_back(CheckArrow(builder->Finish(), "finishing decoded key columns"));
  }
  length_ = 0;
  return columns;
}

}  // namespace millstream
