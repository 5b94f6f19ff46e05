// vqdsp._core: kernels of the quantizer bottleneck on numpy arrays (CPU) and raw device pointers (CUDA).
// Plain pybind11, not linked to libtorch: vqdsp.ops is the only caller and does the torch side.
#include "common.h"
#ifdef VQDSP_WITH_CUDA
#include "cuda/kernels.h"
#endif

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "vqdsp native kernels (CPU; CUDA when built with a CUDA compiler)";
  m.attr("__version__") = VQDSP_VERSION;
  m.def(
      "built_with_cuda",
      [] {
#ifdef VQDSP_WITH_CUDA
        return true;
#else
        return false;
#endif
      },
      "True when the CUDA kernels were compiled in.");
  vqdsp::bind_nearest_code(m);
  vqdsp::bind_se(m);
#ifdef VQDSP_WITH_CUDA
  vqdsp::bind_cuda(m);
#endif
}
