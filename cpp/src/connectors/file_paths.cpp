#include "connectors/file_paths.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace millstream {

std::vector<std::string> ExpandFilePaths(const std::string& path_or_glob) {
  if (path_or_glob.empty()) throw UserError("no file path given");
  const bool is_glob = path_or_glob.find_first_of("*?[") != std::string::npos;
  if (!is_glob) {
    struct stat info {};
    if (::stat(path_or_glob.c_str(), &info) != 0) {
      throw UserError("cannot read '" + path_or_glob + "': " + std::strerror(errno));
    }
    if (S_ISDIR(info.st_mode)) {
      throw UserError("cannot read '" + path_or_glob +
                      "': it is a directory (to read its files, use a glob such as '" +
                      path_or_glob + "/*')");
    }
    return {path_or_glob};
  }
  glob_t matches{};
  const int status = ::glob(path_or_glob.c_str(), GLOB_NOSORT, nullptr, &matches);
  std::vector<std::string> paths;
  if (status == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      struct stat info {};
      if (::stat(matches.gl_pathv[i], &info) == 0 && S_ISREG(info.st_mode)) {
        paths.emplace_back(matches.gl_pathv[i]);
      }
    }
  }
  ::globfree(&matches);
  if (status != 0 && status != GLOB_NOMATCH) {
    throw UserError("cannot expand '" + path_or_glob + "': a directory could not be read");
  }
  if (paths.empty()) throw UserError("no file matches '" + path_or_glob + "'");
  std::sort(paths.begin(), paths.end());  // byte order, not the locale's collation
  return paths;
}

}  // namespace millstream
