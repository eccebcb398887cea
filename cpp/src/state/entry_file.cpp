#include "state/entry_file.h"

#include <cstring>

#include "core/error.h"
#include "core/hash.h"
#include "core/snapshot.h"

namespace millstream {

namespace {

constexpr std::string_view kMagic = "MSENTRY1";
constexpr std::string_view kEndMagic = "MSENDOK1";
constexpr size_t kFooterBytes = 8 + 8 + 8;

void AppendU32(std::string* out, uint32_t value) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out->append(bytes, 4);
}

uint64_t ReadLittleEndian(std::string_view bytes, size_t offset, int width) {
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

[[noreturn]] void Damaged(const std::string& path, const std::string& why) {
  throw UserError("the checkpoint file '" + path + "' is damaged (" + why +
                  "): restore from an earlier complete checkpoint");
}

}  // namespace

void AppendU64(std::string* out, uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out->append(bytes, 8);
}

uint64_t ReadU64(std::string_view bytes, size_t* offset, const std::string& what) {
  if (*offset + 8 > bytes.size()) {
    throw UserError("the checkpoint record of " + what + " ends early: restore from an earlier "
                    "complete checkpoint");
  }
  const uint64_t value = ReadLittleEndian(bytes, *offset, 8);
  *offset += 8;
  return value;
}

EntryFileWriter::EntryFileWriter() : bytes_(kMagic) {}

void EntryFileWriter::Add(std::string_view key, std::string_view value) {
  MS_CHECK(key.size() <= UINT32_MAX && value.size() <= UINT32_MAX, "state entry over 4 GB");
  AppendU32(&bytes_, static_cast<uint32_t>(key.size()));
  bytes_.append(key);
  AppendU32(&bytes_, static_cast<uint32_t>(value.size()));
  bytes_.append(value);
  ++count_;
}

void EntryFileWriter::WriteTo(const std::string& path) {
  const uint64_t checksum = HashBytes(bytes_);
  AppendU64(&bytes_, static_cast<uint64_t>(count_));
  AppendU64(&bytes_, checksum);
  bytes_.append(kEndMagic);
  WriteFileAtomically(path, bytes_);
  bytes_.assign(kMagic);
  count_ = 0;
}

void ReadEntryFile(const std::string& path,
                   const std::function<void(std::string_view, std::string_view)>& entry) {
  const std::string file = ReadWholeFile(path);
  const std::string_view bytes(file);
  if (bytes.size() < kMagic.size() + kFooterBytes || bytes.substr(0, kMagic.size()) != kMagic) {
    Damaged(path, "not a millstream state file");
  }
  if (bytes.substr(bytes.size() - kEndMagic.size()) != kEndMagic) Damaged(path, "truncated");
  const size_t body_end = bytes.size() - kFooterBytes;
  const uint64_t count = ReadLittleEndian(bytes, body_end, 8);
  const uint64_t checksum = ReadLittleEndian(bytes, body_end + 8, 8);
  if (HashBytes(bytes.substr(0, body_end)) != checksum) Damaged(path, "checksum mismatch");
  size_t offset = kMagic.size();
  uint64_t records = 0;
  auto field = [&]() {
    if (offset + 4 > body_end) Damaged(path, "a record ends early");
    const size_t size = ReadLittleEndian(bytes, offset, 4);
    offset += 4;
    if (offset + size > body_end) Damaged(path, "a record ends early");
    const std::string_view value = bytes.substr(offset, size);
    offset += size;
    return value;
  };
  while (offset < body_end) {
    const std::string_view key = field();
    const std::string_view value = field();
    entry(key, value);
    ++records;
  }
  if (records != count) Damaged(path, "record count mismatch");
}

}  // namespace millstream
