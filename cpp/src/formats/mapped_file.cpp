#include "formats/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace millstream {

namespace {
constexpr char kEmpty[1] = {0};

std::string SystemError(const std::string& what, const std::string& path) {
  return "cannot " + what + " '" + path + "': " + std::strerror(errno);
}
}  // namespace

std::shared_ptr<const MappedFile> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UserError(SystemError("open", path));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const std::string message = SystemError("stat", path);
    ::close(fd);
    throw UserError(message);
  }
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw UserError("cannot read '" + path + "': it is a directory");
  }
  const size_t size_bytes = static_cast<size_t>(info.st_size);
  if (size_bytes == 0) {
    ::close(fd);
    return std::shared_ptr<const MappedFile>(new MappedFile(path, kEmpty, 0));
  }
  void* mapping = ::mmap(nullptr, size_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file open; no descriptor per file stays in use
  if (mapping == MAP_FAILED) {
    errno = map_errno;
    throw UserError(SystemError("map", path));
  }
  // Splits read their ranges front to back: let the kernel read ahead aggressively.
  ::madvise(mapping, size_bytes, MADV_SEQUENTIAL);
  return std::shared_ptr<const MappedFile>(
      new MappedFile(path, static_cast<const char*>(mapping), size_bytes));
}

MappedFile::~MappedFile() {
  if (size_bytes_ > 0) ::munmap(const_cast<char*>(data_), size_bytes_);
}

}  // namespace millstream
