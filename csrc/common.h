// Shared helpers of the CPU kernels: strict checks of the numpy arrays handed in by vqdsp.ops.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace vqdsp {

namespace py = pybind11;

// The pointer of `a` once its dtype, C-contiguity and shape (-1: any) are checked; never converts.
template <class T>
T* checked(py::array& a, const char* name, std::initializer_list<int64_t> shape, bool writable = false) {
  if (!py::isinstance<py::array_t<T>>(a))
    throw std::invalid_argument(std::string(name) + " must be a " + (sizeof(T) == 4 ? "float32" : "int64") +
                                " array, got dtype " + std::string(py::str(a.dtype())));
  if (a.ndim() != static_cast<py::ssize_t>(shape.size()))
    throw std::invalid_argument(std::string(name) + " must have " + std::to_string(shape.size()) +
                                " dimensions, got " + std::to_string(a.ndim()));
  int i = 0;
  for (int64_t s : shape) {
    if (s >= 0 && a.shape(i) != s)
      throw std::invalid_argument(std::string(name) + " has size " + std::to_string(a.shape(i)) + " in dimension " +
                                  std::to_string(i) + ", expected " + std::to_string(s));
    ++i;
  }
  if (!(a.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(name) + " must be C-contiguous (call .contiguous() first)");
  if (writable && !a.writeable()) throw std::invalid_argument(std::string(name) + " must be writeable");
  return static_cast<T*>(writable ? a.mutable_data() : const_cast<void*>(a.data()));
}

#ifdef _OPENMP
#include <omp.h>
#endif

// Threads for one call: at most `requested`, and no more than one per `grain` units of `work`.
inline int plan_threads(int requested, int64_t work, int64_t grain) {
  const int64_t useful = grain > 0 ? (work + grain - 1) / grain : requested;
  const int64_t n = requested < useful ? requested : useful;
  return n < 1 ? 1 : static_cast<int>(n);
}

// While alive, OpenMP may run the calling thread's parallel regions on fewer threads than asked when
// the machine is busy (dynamic adjustment), instead of waiting at every join for a descheduled thread.
// OMP_DYNAMIC=false in the environment turns this off. Scoped: the caller's setting is restored.
class DynamicThreads {
 public:
  DynamicThreads() {
#ifdef _OPENMP
    previous_ = omp_get_dynamic();
    const char* env = std::getenv("OMP_DYNAMIC");
    const bool off = env && (std::strcmp(env, "false") == 0 || std::strcmp(env, "FALSE") == 0 || std::strcmp(env, "0") == 0);
    omp_set_dynamic(off ? 0 : 1);
#endif
  }
  ~DynamicThreads() {
#ifdef _OPENMP
    omp_set_dynamic(previous_);
#endif
  }
  DynamicThreads(const DynamicThreads&) = delete;
  DynamicThreads& operator=(const DynamicThreads&) = delete;

 private:
  int previous_ = 0;
};

// ReLU that keeps NaN (as torch.relu does): `v > 0 ? v : 0` would turn a diverging run's NaN into 0.
inline float relu(float v) { return v < 0.f ? 0.f : v; }

// The ReLU's derivative applied to g, as torch's threshold_backward: 0 where v <= 0, else g (a NaN v passes g).
inline float relu_grad(float v, float g) { return v <= 0.f ? 0.f : g; }

// SE excitation of one batch item: scale[c] = sigmoid(W2 relu(W1 mean + b1) + b2)[c]; `hidden` gets W1 mean + b1.
inline void se_mlp(const float* mean, const float* w1, const float* b1, const float* w2, const float* b2,
                   int64_t c, int64_t h, float* hidden, float* scale) {
  for (int64_t j = 0; j < h; ++j) {
    float s = b1[j];
    for (int64_t k = 0; k < c; ++k) s += w1[j * c + k] * mean[k];
    hidden[j] = s;
  }
  for (int64_t k = 0; k < c; ++k) {
    float s = b2[k];
    for (int64_t j = 0; j < h; ++j) s += w2[k * h + j] * relu(hidden[j]);
    scale[k] = 1.f / (1.f + std::exp(-s));
  }
}

// Per-plane mean of x [planes, hw] (the SE squeeze), OpenMP over planes.
void se_squeeze_cpu(const float* x, int64_t planes, int64_t hw, float* mean, int threads);

// The shapes of the SE weights, checked against x's channels; returns the hidden width C/r.
int64_t check_se_weights(py::array& w1, py::array& b1, py::array& w2, py::array& b2, int64_t channels,
                         const float** pw1, const float** pb1, const float** pw2, const float** pb2);

void bind_nearest_code(py::module_& m);
void bind_se(py::module_& m);

}  // namespace vqdsp
