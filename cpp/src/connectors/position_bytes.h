// The bytes of a split's checkpoint position (SourceSplit::Position): fixed-width little-endian
// integers and length-prefixed strings after a tag naming the format, read back by the source
// that wrote them (Source::CreateSplitsAfter). A position that does not parse (another source's,
// a truncated file) is a UserError naming the source, never a crash.
//
//   PositionWriter writer("text-v1");
//   writer.PutInt(offset_bytes);
//   writer.PutString(path);
//   std::string bytes = writer.Take();
//   PositionReader reader(bytes, "text-v1", "read_csv(in.csv)");
//   int64_t offset_bytes = reader.GetInt();
//   std::string path = reader.GetString();
//   reader.ExpectEnd();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace millstream {

class PositionWriter {
 public:
  explicit PositionWriter(std::string_view format_tag);
  void PutInt(int64_t value);
  void PutString(std::string_view value);
  std::string Take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class PositionReader {
 public:
  // Throws UserError naming `source_name` when `bytes` do not start with `format_tag`. Keeps a
  // copy of `bytes` (positions are small), so a temporary may be passed: a record read from a
  // file straight into the reader.
  PositionReader(std::string_view bytes, std::string_view format_tag, std::string source_name);
  int64_t GetInt();
  std::string GetString();
  // Throws UserError when bytes are left over.
  void ExpectEnd() const;

 private:
  [[noreturn]] void ThrowCorrupt(std::string_view what) const;

  std::string bytes_;
  size_t offset_ = 0;
  std::string source_name_;
};

}  // namespace millstream
