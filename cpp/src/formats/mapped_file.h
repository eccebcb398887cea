// A whole file mapped read-only into memory. Text readers parse straight from the mapping: no
// read() copies, and P splits of one file share one mapping.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace millstream {

class MappedFile {
 public:
  // Throws UserError naming `path` when the file cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const char* data() const { return data_; }
  size_t size() const { return size_bytes_; }
  const char* end() const { return data_ + size_bytes_; }

 private:
  MappedFile(std::string path, const char* data, size_t size_bytes)
      : path_(std::move(path)), data_(data), size_bytes_(size_bytes) {}
  std::string path_;
  const char* data_;  // an empty file has no mapping: data_ points at a static empty string
  size_t size_bytes_;
};

}  // namespace millstream
