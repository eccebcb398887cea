#include "core/error.h"

namespace millstream {

void FailInternal(const char* file, int line, const char* condition, const std::string& message) {
  throw InternalError(std::string("internal error (a millstream bug): ") + condition +
                      " failed at " + file + ":" + std::to_string(line) + ": " + message);
}

void CheckArrow(const arrow::Status& status, const char* what) {
  if (!status.ok()) {
    throw InternalError(std::string("internal error (a millstream bug) in ") + what + ": " +
                        status.ToString());
  }
}

}  // namespace millstream
