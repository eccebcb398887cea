// Two kinds of error (STYLE.md habit 4): a user's mistake is a UserError whose message names
// the source, position and field; a broken invariant is an InternalError raised by MS_CHECK.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <arrow/result.h>
#include <arrow/status.h>

namespace millstream {

// Bad input, a bad schema, a missing file: surfaces in Python as ValueError.
class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

// An operation applied to a column of the wrong type: surfaces in Python as TypeError.
class UserTypeError : public UserError {
 public:
  explicit UserTypeError(const std::string& message) : UserError(message) {}
};

// A plan that does not follow the plan format (plan/plan_parser.h): an unknown operator or
// field, a wrong type, a missing field, another format version. The message names the node (id,
// op, label) and the field. Surfaces in Python as millstream.PlanError (a ValueError).
class PlanError : public UserError {
 public:
  explicit PlanError(const std::string& message) : UserError(message) {}
};

// A run cancelled from outside (Ctrl-C, job.stop()).
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("run cancelled") {}
};

// A bug in millstream: an invariant that should hold did not.
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

[[noreturn]] void FailInternal(const char* file, int line, const char* condition,
                               const std::string& message);

// Throws the status as an InternalError: Arrow calls that fail only through a bug of ours.
void CheckArrow(const arrow::Status& status, const char* what);

template <typename T>
T CheckArrow(arrow::Result<T> result, const char* what) {
  CheckArrow(result.status(), what);
  return std::move(result).ValueUnsafe();
}

}  // namespace millstream

#define MS_CHECK(condition, message)                                              \
  do {                                                                            \
    if (!(condition)) ::millstream::FailInternal(__FILE__, __LINE__, #condition, (message)); \
  } while (false)
