#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "millstream's native engine (thin bindings; the logic lives in cpp/)";
}
