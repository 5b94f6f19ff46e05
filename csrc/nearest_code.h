#pragma once
#include <pybind11/pybind11.h>

namespace vqdsp {
void bind_nearest_code(pybind11::module_& m);
}
