#include "connectors/position_bytes.h"

#include <cstring>

#include "core/error.h"

namespace millstream {

PositionWriter::PositionWriter(std::string_view format_tag) { PutString(format_tag); }

void PositionWriter::PutInt(int64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(static_cast<uint64_t>(value) >> (8 * i));
  bytes_.append(bytes, 8);
}

void PositionWriter::PutString(std::string_view value) {
  PutInt(static_cast<int64_t>(value.size()));
  bytes_.append(value);
}

PositionReader::PositionReader(std::string_view bytes, std::string_view format_tag,
                               std::string source_name)
    : bytes_(bytes), source_name_(std::move(source_name)) {
  if (GetString() != format_tag) {
    ThrowCorrupt("it was written by another kind of source (expected '" +
                 std::string(format_tag) + "')");
  }
}

int64_t PositionReader::GetInt() {
  if (bytes_.size() - offset_ < 8) ThrowCorrupt("it ends early");
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes_[offset_ + i])) << (8 * i);
  }
  offset_ += 8;
  return static_cast<int64_t>(value);
}

std::string PositionReader::GetString() {
  const int64_t length = GetInt();
  if (length < 0 || static_cast<uint64_t>(length) > bytes_.size() - offset_) {
    ThrowCorrupt("it ends early");
  }
  std::string value = bytes_.substr(offset_, static_cast<size_t>(length));
  offset_ += static_cast<size_t>(length);
  return value;
}

void PositionReader::ExpectEnd() const {
  if (offset_ != bytes_.size()) ThrowCorrupt("it has bytes left over");
}

void PositionReader::ThrowCorrupt(std::string_view what) const {
  throw UserError(source_name_ + ": the checkpointed position cannot be read back: " +
                  std::string(what) +
                  "; the checkpoint is damaged or belongs to another pipeline (restore from "
                  "another checkpoint, or start without one)");
}

}  // namespace millstream
