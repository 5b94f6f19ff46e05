// Python binding of the CUDA launchers: raw device pointers (ints) in, each checked to be device memory of
// the given device before any kernel sees it.
#include <cuda_runtime.h>

#include <string>

#include "../common.h"
#include "kernels.h"

namespace vqdsp {
namespace {

template <class T>
T* device_ptr(uintptr_t address, int device, const char* name, int64_t count) {
  if (count == 0) return reinterpret_cast<T*>(address);
  if (address == 0) throw std::invalid_argument(std::string(name) + " is a null pointer");
  if (address % alignof(T) != 0) throw std::invalid_argument(std::string(name) + " is not aligned");
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, reinterpret_cast<void*>(address)) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error of a host pointer
    throw std::invalid_argument(std::string(name) + " is not CUDA memory");
  }
  if ((attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) || attr.device != device)
    throw std::invalid_argument(std::string(name) + " is not memory of CUDA device " + std::to_string(device));
  return reinterpret_cast<T*>(address);
}

void need(int64_t have, int64_t want) {
  if (have < want)
    throw std::invalid_argument("the workspace holds " + std::to_string(have) + " floats, " + std::to_string(want) +
                                " needed");
}

void check_sizes(std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes)
    if (s < 0) throw std::invalid_argument("sizes must be >= 0");
}

}  // namespace

void bind_cuda(py::module_& m) {
  m.def(
      "nearest_code_cuda",
      [](int dev, uintptr_t stream, uintptr_t z, uintptr_t cb, uintptr_t idx, uintptr_t q, uintptr_t dist,
         uintptr_t ws, int64_t ws_floats, int64_t n, int64_t k, int64_t d) {
        check_sizes({n, k, d});
        if (k == 0) throw std::invalid_argument("the codebook is empty (K = 0)");
        need(ws_floats, k);
        cuda::nearest_code(dev, stream, device_ptr<const float>(z, dev, "z", n * d),
                           device_ptr<const float>(cb, dev, "codebook", k * d), device_ptr<int64_t>(idx, dev, "indices", n),
                           device_ptr<float>(q, dev, "quantized", n * d), device_ptr<float>(dist, dev, "distances", n),
                           device_ptr<float>(ws, dev, "workspace", k), n, k, d);
      },
      "nearest_code on CUDA; pointers of float32 z [N, D], codebook [K, D], int64 indices [N], quantized [N, D],\n"
      "distances [N] and a workspace of K floats.");
  m.def(
      "se_forward_cuda",
      [](int dev, uintptr_t stream, uintptr_t x, uintptr_t w1, uintptr_t b1, uintptr_t w2, uintptr_t b2, uintptr_t out,
         uintptr_t mean, uintptr_t ws, int64_t ws_floats, int64_t b, int64_t c, int64_t hw, int64_t h) {
        check_sizes({b, c, hw, h});
        need(ws_floats, b * c);
        cuda::se_forward(dev, stream, device_ptr<const float>(x, dev, "x", b * c * hw), device_ptr<const float>(w1, dev, "W1", h * c),
                         device_ptr<const float>(b1, dev, "b1", h), device_ptr<const float>(w2, dev, "W2", c * h),
                         device_ptr<const float>(b2, dev, "b2", c), device_ptr<float>(out, dev, "out", b * c * hw),
                         device_ptr<float>(mean, dev, "mean", b * c), device_ptr<float>(ws, dev, "workspace", b * c), b,
                         c, hw, h);
      },
      "se_forward on CUDA; pointers of x [B, C, HW], the weights, out, mean [B, C] and a workspace of B*C floats.");
  m.def(
      "se_backward_cuda",
      [](int dev, uintptr_t stream, uintptr_t grad, uintptr_t x, uintptr_t mean, uintptr_t w1, uintptr_t b1,
         uintptr_t w2, uintptr_t b2, uintptr_t dx, uintptr_t dw1, uintptr_t db1, uintptr_t dw2, uintptr_t db2,
         uintptr_t ws, int64_t ws_floats, int64_t b, int64_t c, int64_t hw, int64_t h) {
        check_sizes({b, c, hw, h});
        need(ws_floats, 4 * b * c + 2 * b * h);
        const int64_t numel = b * c * hw;
        cuda::se_backward(dev, stream, device_ptr<const float>(grad, dev, "grad", numel),
                          device_ptr<const float>(x, dev, "x", numel), device_ptr<const float>(mean, dev, "mean", b * c),
                          device_ptr<const float>(w1, dev, "W1", h * c), device_ptr<const float>(b1, dev, "b1", h),
                          device_ptr<const float>(w2, dev, "W2", c * h), device_ptr<const float>(b2, dev, "b2", c),
                          device_ptr<float>(dx, dev, "dx", numel), device_ptr<float>(dw1, dev, "dW1", h * c),
                          device_ptr<float>(db1, dev, "db1", h), device_ptr<float>(dw2, dev, "dW2", c * h),
                          device_ptr<float>(db2, dev, "db2", c),
                          device_ptr<float>(ws, dev, "workspace", 4 * b * c + 2 * b * h), b, c, hw, h);
      },
      "se_backward on CUDA; a workspace of 4*B*C + 2*B*H floats.");
  m.def(
      "se_nearest_code_cuda",
      [](int dev, uintptr_t stream, uintptr_t y, uintptr_t w1, uintptr_t b1, uintptr_t w2, uintptr_t b2, uintptr_t cb,
         uintptr_t q, uintptr_t idx, uintptr_t dist, uintptr_t mean, uintptr_t ws, int64_t ws_floats, int64_t b,
         int64_t c, int64_t hw, int64_t k, int64_t h) {
        check_sizes({b, c, hw, k, h});
        if (k == 0) throw std::invalid_argument("the codebook is empty (K = 0)");
        need(ws_floats, k + b * c);
        const int64_t numel = b * c * hw;
        cuda::se_nearest_code(dev, stream, device_ptr<const float>(y, dev, "y", numel),
                              device_ptr<const float>(w1, dev, "W1", h * c), device_ptr<const float>(b1, dev, "b1", h),
                              device_ptr<const float>(w2, dev, "W2", c * h), device_ptr<const float>(b2, dev, "b2", c),
                              device_ptr<const float>(cb, dev, "codebook", k * c),
                              device_ptr<float>(q, dev, "quantized", numel), device_ptr<int64_t>(idx, dev, "indices", b * hw),
                              device_ptr<float>(dist, dev, "distances", b * hw), device_ptr<float>(mean, dev, "mean", b * c),
                              device_ptr<float>(ws, dev, "workspace", k + b * c), b, c, hw, k, h);
      },
      "se_nearest_code on CUDA; a workspace of K + B*C floats.");
}

}  // namespace vqdsp
