#include "core/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace millstream {
namespace {

std::string Reason() { return std::strerror(errno); }

void SyncDescriptor(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw UserError("cannot sync " + path + ": " + Reason());
}

}  // namespace

void SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UserError("cannot open " + path + " to sync it: " + Reason());
  try {
    SyncDescriptor(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void WriteFileAtomically(const std::string& path, std::string_view bytes) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw UserError("cannot write " + temporary + ": " + Reason());
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string reason = Reason();
      ::close(fd);
      throw UserError("cannot write " + temporary + ": " + reason);
    }
    written += static_cast<size_t>(n);
  }
  try {
    SyncDescriptor(fd, temporary);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    throw UserError("cannot rename " + temporary + " to " + path + ": " + Reason());
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  SyncPath(parent.empty() ? std::string(".") : parent.string());
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read " + path + ": " + Reason());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw UserError("cannot read " + path + ": " + Reason());
  return std::move(bytes).str();
}

void LinkOrCopyFile(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::create_hard_link(from, to, error);
  if (!error) return;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
  if (error) {
    throw UserError("cannot link or copy " + from + " to " + to + ": " + error.message());
  }
}

}  // namespace millstream
