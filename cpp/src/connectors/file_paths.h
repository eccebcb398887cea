// The files a file source reads: one path, or a glob ("data/*.jsonl", "logs/2024-??/*.csv")
// expanded to the regular files it matches, in byte order of their paths, so that every run and
// every parallelism reads the same files in the same order.
#pragma once

#include <string>
#include <vector>

namespace millstream {

// Throws UserError naming `path_or_glob` when the file does not exist, or when the glob
// matches no file. `**` is not recursive (glob(3) semantics).
std::vector<std::string> ExpandFilePaths(const std::string& path_or_glob);

}  // namespace millstream
