// The file format of keyed state written into a checkpoint outside RocksDB: the memory backend's
// column families, the hot entries of a keyed-state store, an operator's own bookkeeping. One
// sorted run of (key, value) records, each length-prefixed, and a footer with the record count
// and a checksum of everything before it: a truncated or damaged file is refused with a
// UserError naming it, never half read.
//
// Layout: "MSENTRY1" | per record: u32 LE key size, key, u32 LE value size, value |
//         u64 LE record count | u64 LE HashBytes of all bytes before the count | "MSENDOK1".
//
// Example:
//   EntryFileWriter out;
//   out.Add(key, value);                       // in key order when the reader scans ranges
//   out.WriteTo(directory + "/running_acc.hot");
//   ReadEntryFile(path, [&](std::string_view key, std::string_view value) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace millstream {

class EntryFileWriter {
 public:
  EntryFileWriter();
  void Add(std::string_view key, std::string_view value);
  int64_t count() const { return count_; }
  // Writes the file durably and atomically (core/snapshot.h WriteFileAtomically).
  void WriteTo(const std::string& path);

 private:
  std::string bytes_;
  int64_t count_ = 0;
};

// Calls entry(key, value) for each record in file order, after checking the whole file.
// Throws UserError naming `path` when it is missing, truncated or damaged.
void ReadEntryFile(const std::string& path,
                   const std::function<void(std::string_view, std::string_view)>& entry);

// Fixed-width little-endian integers for the values of bookkeeping records.
void AppendU64(std::string* out, uint64_t value);
// Reads the u64 at `*offset` of `bytes` and moves past it; throws UserError naming `what` when
// the bytes end first.
uint64_t ReadU64(std::string_view bytes, size_t* offset, const std::string& what);

}  // namespace millstream
