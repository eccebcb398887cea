#include "formats/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace millstream {

namespace {

// Pseudo-files are small (a /proc table); one larger than this is not one.
constexpr int64_t kMaxPseudoFileBytes = int64_t{1} << 30;
// Reads that look for a line end or count lines go in pieces of this size.
constexpr int64_t kScanPieceBytes = int64_t{1} << 20;

std::string SystemError(const std::string& what, const std::string& path) {
  return "cannot " + what + " '" + path + "': " + std::strerror(errno);
}

// A descriptor closed when it goes out of scope.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

const char* KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a pipe (FIFO)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Reads from `fd` at `offset` until `length` bytes or the end of the file; returns the count.
int64_t ReadFully(int fd, int64_t offset, int64_t length, char* out, const std::string& path) {
  int64_t done = 0;
  while (done < length) {
    const ssize_t got = ::pread(fd, out + done, static_cast<size_t>(length - done), offset + done);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw UserError(SystemError("read", path));
    }
    if (got == 0) break;
    done += got;
  }
  return done;
}

}  // namespace

std::shared_ptr<const InputFile> InputFile::Open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) throw UserError(SystemError("open", path));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) throw UserError(SystemError("stat", path));
  if (S_ISDIR(info.st_mode)) throw UserError("cannot read '" + path + "': it is a directory");
  if (!S_ISREG(info.st_mode)) {
    throw UserError("cannot read '" + path + "': it is " + KindOf(info.st_mode) +
                    ", and file sources read regular files (in parallel byte ranges); write "
                    "the data to a file first, or read it in Python and pass it to "
                    "from_arrow / from_pandas");
  }
  std::shared_ptr<InputFile> file(
      new InputFile(path, static_cast<int64_t>(info.st_size), info.st_dev, info.st_ino));
  if (info.st_size == 0) {
    // An empty file, or a pseudo-file (/proc, /sys) that reports size 0 and has contents: those
    // are generated when read, so they are read whole, once, here.
    std::vector<char> piece(1 << 16);
    for (;;) {
      const ssize_t got = ::read(fd.get(), piece.data(), piece.size());
      if (got < 0) {
        if (errno == EINTR) continue;
        throw UserError(SystemError("read", path));
      }
      if (got == 0) break;
      file->contents_.append(piece.data(), static_cast<size_t>(got));
      if (static_cast<int64_t>(file->contents_.size()) > kMaxPseudoFileBytes) {
        throw UserError("cannot read '" + path + "': it reports size 0 yet holds over 1 GB "
                        "(a file growing while it is opened?); copy it to a file first");
      }
    }
    file->in_memory_ = true;
    file->size_bytes_ = static_cast<int64_t>(file->contents_.size());
  }
  return file;
}

void InputFile::ReadAt(int64_t offset, int64_t length, char* out) const {
  MS_CHECK(offset >= 0 && length >= 0 && offset + length <= size_bytes_,
           "a read within the declared size of " + path_);
  if (length == 0) return;
  if (in_memory_) {
    std::memcpy(out, contents_.data() + offset, static_cast<size_t>(length));
    return;
  }
  // Opened again for every read, not held open: a glob of many files then holds no descriptor
  // per file. The identity check tells a file replaced under its name (rotated) from the one
  // declared.
  Descriptor fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    throw UserError(SystemError("open", path_) +
                    " (it was there when the source was declared: was it moved or deleted?)");
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) throw UserError(SystemError("stat", path_));
  if (info.st_dev != device_ || info.st_ino != inode_) {
    throw UserError("'" + path_ + "' was replaced by another file since the source was "
                    "declared (log rotation?): a run reads the file as it was declared; "
                    "declare the source again to read the new file");
  }
  const int64_t got = ReadFully(fd.get(), offset, length, out, path_);
  if (got < length) {
    throw UserError("'" + path_ + "' shrank to " + std::to_string(offset + got) +
                    " bytes while it was read (it had " + std::to_string(size_bytes_) +
                    " when the source was declared): was it truncated or rotated? A run reads "
                    "the bytes a file had when its source was declared; leave them in place "
                    "until the run ends");
  }
}

template <typename Visit>
void InputFile::ForEachPiece(int64_t offset, int64_t length, int64_t piece_bytes,
                             Visit visit) const {
  std::vector<char> piece(static_cast<size_t>(std::min(length, piece_bytes)));
  for (int64_t done = 0; done < length;) {
    const int64_t bytes = std::min(length - done, piece_bytes);
    ReadAt(offset + done, bytes, piece.data());
    if (!visit(piece.data(), bytes, offset + done)) return;
    done += bytes;
  }
}

std::string InputFile::ReadHead(int64_t max_bytes) const {
  std::string head(static_cast<size_t>(std::min(max_bytes, size_bytes_)), '\0');
  ReadAt(0, static_cast<int64_t>(head.size()), head.data());
  if (static_cast<int64_t>(head.size()) == size_bytes_) return head;
  const size_t last_newline = head.rfind('\n');
  if (last_newline != std::string::npos) {
    head.resize(last_newline + 1);
    return head;
  }
  // The first line is longer than max_bytes: extend it to its end.
  const int64_t line_end = NextLineStart(static_cast<int64_t>(head.size()));
  head.resize(static_cast<size_t>(line_end));
  ReadAt(0, line_end, head.data());
  return head;
}

int64_t InputFile::NextLineStart(int64_t offset) const {
  if (offset <= 0) return 0;
  // A line starts at `offset` when the byte before it is a '\n': look from that byte on.
  int64_t found = size_bytes_;
  ForEachPiece(offset - 1, size_bytes_ - (offset - 1), kScanPieceBytes,
               [&](const char* piece, int64_t bytes, int64_t piece_offset) {
                 const void* newline = std::memchr(piece, '\n', static_cast<size_t>(bytes));
                 if (newline == nullptr) return true;
                 found = piece_offset + (static_cast<const char*>(newline) - piece) + 1;
                 return false;
               });
  return found;
}

int64_t InputFile::CountNewlines(int64_t from, int64_t to) const {
  int64_t newlines = 0;
  if (to <= from) return 0;
  ForEachPiece(from, to - from, kScanPieceBytes, [&](const char* piece, int64_t bytes, int64_t) {
    newlines += std::count(piece, piece + bytes, '\n');
    return true;
  });
  return newlines;
}

}  // namespace millstream
