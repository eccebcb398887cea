// A text file a source reads, as it was when the source was declared. It is read with pread()
// into buffers the readers own, never memory-mapped: a mapped file that shrinks under a run
// (log rotation truncates files) kills the process with SIGBUS, where a read that comes back
// short is an error naming the file. A run reads the bytes the file had when it was declared
// (`size()`); rows appended later are not read.
//
// Pseudo-files whose size reads 0 but that have contents (/proc, /sys) are read whole when
// opened. Pipes, FIFOs, sockets and devices are refused: splits read a file's byte ranges in
// parallel, which a stream cannot give.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace millstream {

// How much of each file schema inference reads at most (the rows it samples are in there).
constexpr int64_t kInferenceHeadBytes = int64_t{4} << 20;

class InputFile {
 public:
  // Throws UserError naming `path` when it cannot be opened, or is not a file that can be read
  // by ranges (a directory, a pipe, a device).
  static std::shared_ptr<const InputFile> Open(const std::string& path);

  const std::string& path() const { return path_; }
  // The bytes a run reads: the file's size when it was opened.
  int64_t size() const { return size_bytes_; }

  // Copies bytes [offset, offset + length) of the file to `out`. Throws UserError naming the
  // file when it was replaced or shrank since it was opened.
  void ReadAt(int64_t offset, int64_t length, char* out) const;

  // The first lines of the file: its first `max_bytes` bytes, cut after the last '\n' unless
  // they are the whole file (so that no line of the result is cut short). A first line longer
  // than `max_bytes` is returned whole.
  std::string ReadHead(int64_t max_bytes) const;

  // The offset of the first line start at or after `offset` (a line starts after a '\n'), or
  // size() when no line starts there.
  int64_t NextLineStart(int64_t offset) const;

  // The '\n' bytes in [from, to).
  int64_t CountNewlines(int64_t from, int64_t to) const;

 private:
  InputFile(std::string path, int64_t size_bytes, dev_t device, ino_t inode)
      : path_(std::move(path)), size_bytes_(size_bytes), device_(device), inode_(inode) {}
  // Reads [offset, offset + length) in pieces of at most `piece_bytes`, calling
  // visit(piece_begin, piece_bytes, piece_offset) until it returns false.
  template <typename Visit>
  void ForEachPiece(int64_t offset, int64_t length, int64_t piece_bytes, Visit visit) const;

  std::string path_;
  int64_t size_bytes_;
  dev_t device_;  // the file's identity, to tell a replaced file from the one declared
  ino_t inode_;
  std::string contents_;  // a pseudo-file's bytes, read when opened (empty otherwise)
  bool in_memory_ = false;
};

}  // namespace millstream
