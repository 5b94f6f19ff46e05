// Nearest-codebook search on the CPU: for each row of z [N, D], the index of the nearest row of
// codebook [K, D] (squared L2, ties to the lowest index), without materialising N x K distances.
#include "nearest_code.h"

#include <pybind11/numpy.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace py = pybind11;

namespace vqdsp {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

void nearest_code_cpu(const float* z, const float* codebook, int64_t n, int64_t k, int64_t d,
                      int64_t* indices, float* distances) {
  std::vector<float> norms(k);
  for (int64_t j = 0; j < k; ++j) {
    float s = 0.f;
    for (int64_t c = 0; c < d; ++c) s += codebook[j * d + c] * codebook[j * d + c];
    norms[j] = s;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* row = z + i * d;
    float row_norm = 0.f;
    for (int64_t c = 0; c < d; ++c) row_norm += row[c] * row[c];
    float best = std::numeric_limits<float>::infinity();
    int64_t best_j = 0;
    for (int64_t j = 0; j < k; ++j) {
      const float* code = codebook + j * d;
      float dot = 0.f;
      for (int64_t c = 0; c < d; ++c) dot += row[c] * code[c];
      const float dist = norms[j] - 2.f * dot;
      if (dist < best) {
        best = dist;
        best_j = j;
      }
    }
    indices[i] = best_j;
    const float full = best + row_norm;
    distances[i] = full > 0.f ? full : 0.f;
  }
}

py::tuple nearest_code(FloatArray z, FloatArray codebook) {
  if (z.ndim() != 2 || codebook.ndim() != 2)
    throw std::invalid_argument("nearest_code expects z [N, D] and codebook [K, D]");
  if (z.shape(1) != codebook.shape(1))
    throw std::invalid_argument("z and codebook must have the same D");
  if (codebook.shape(0) == 0) throw std::invalid_argument("the codebook is empty (K = 0)");
  const int64_t n = z.shape(0), k = codebook.shape(0), d = z.shape(1);
  py::array_t<int64_t> indices(n);
  py::array_t<float> distances(n);
  {
    py::gil_scoped_release release;
    nearest_code_cpu(z.data(), codebook.data(), n, k, d, indices.mutable_data(), distances.mutable_data());
  }
  return py::make_tuple(indices, distances);
}

}  // namespace

void bind_nearest_code(py::module_& m) {
  m.def("nearest_code", &nearest_code, py::arg("z"), py::arg("codebook"),
        "Indices [N] (int64) and squared distances [N] of the nearest code of each row of z.");
}

}  // namespace vqdsp
