// CUDA launchers of vqdsp._core (compiled by nvcc, free of pybind11) and their Python binding.
#pragma once
#include <cstdint>

namespace pybind11 {
class module_;
}

namespace vqdsp {
namespace cuda {

// Every launcher runs on `device`, queues its kernels on `stream` (a cudaStream_t as an integer, e.g.
// torch.cuda.current_stream().cuda_stream) and throws std::runtime_error when a launch fails.
// `ws` is scratch device memory of at least the number of floats given beside each launcher.

// ws: k floats (the code norms).
void nearest_code(int device, uintptr_t stream, const float* z, const float* codebook, int64_t* indices,
                  float* quantized, float* distances, float* ws, int64_t n, int64_t k, int64_t d);
// ws: b*c floats (the gates).
void se_forward(int device, uintptr_t stream, const float* x, const float* w1, const float* b1, const float* w2,
                const float* b2, float* out, float* mean, float* ws, int64_t b, int64_t c, int64_t hw, int64_t h);
// ws: 4*b*c + 2*b*h floats.
void se_backward(int device, uintptr_t stream, const float* grad, const float* x, const float* mean, const float* w1,
                 const float* b1, const float* w2, const float* b2, float* dx, float* dw1, float* db1, float* dw2,
                 float* db2, float* ws, int64_t b, int64_t c, int64_t hw, int64_t h);
// ws: k + b*c floats.
void se_nearest_code(int device, uintptr_t stream, const float* y, const float* w1, const float* b1, const float* w2,
                     const float* b2, const float* codebook, float* quantized, int64_t* indices, float* distances,
                     float* mean, float* ws, int64_t b, int64_t c, int64_t hw, int64_t k, int64_t h);

}  // namespace cuda

void bind_cuda(pybind11::module_& m);

}  // namespace vqdsp
