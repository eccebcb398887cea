#include "expr/integer_overflow.h"

#include "core/error.h"

namespace millstream::expr {

void ThrowIntegerOverflow(const std::string& expression, int64_t row, const std::string& operation,
                          const std::string& hint) {
  throw UserError("integer overflow in " + expression + ": " + operation + " at row " +
                  std::to_string(row) + " of a batch does not fit in int64; " +
                  hint);
}

}  // namespace millstream::expr
