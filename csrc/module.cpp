// vqdsp._core: kernels of the quantizer bottleneck on numpy/buffer arrays (no libtorch).
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>

#include "nearest_code.h"

namespace py = pybind11;

namespace {

bool built_with_cuda() {
#ifdef VQDSP_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "vqdsp native kernels (CPU; CUDA when built with a CUDA compiler)";
  m.attr("__version__") = VQDSP_VERSION;
  m.def("built_with_cuda", &built_with_cuda, "True when the CUDA kernels were compiled in.");
  vqdsp::bind_nearest_code(m);
}
