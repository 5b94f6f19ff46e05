// Squeeze-and-Excitation on the CPU: one read of x for the channel means, one read and one write for the
// rescale; the backward reads (grad, x) once for the gate gradient, then grad once more to write dx.
#include <vector>

#include "common.h"

namespace vqdsp {

namespace {

// The per-plane loops, cloned for AVX-512, AVX2 and the baseline and picked at load time (GCC/Clang on x86-64).
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__APPLE__)
#define VQ_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VQ_CLONES
#endif
constexpr int kLanes = 64;  // independent partial sums: several SIMD accumulators hide the add latency

VQ_CLONES float plane_sum(const float* x, const float* y, int64_t n) {  // sum of x (times y when given)
  float acc[kLanes] = {};
  int64_t i = 0;
  if (y) {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j] * y[i + j];
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j];
  }
  float s = 0.f;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  for (; i < n; ++i) s += y ? x[i] * y[i] : x[i];
  return s;
}

VQ_CLONES void plane_affine(const float* x, float gate, float shift, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * gate + shift;
}

}  // namespace

void se_squeeze_cpu(const float* x, int64_t planes, int64_t hw, float* mean, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t p = 0; p < planes; ++p)
    mean[p] = hw > 0 ? plane_sum(x + p * hw, nullptr, hw) / static_cast<float>(hw) : 0.f;
}

int64_t check_se_weights(py::array& w1, py::array& b1, py::array& w2, py::array& b2, int64_t channels,
                         const float** pw1, const float** pb1, const float** pw2, const float** pb2) {
  if (w1.ndim() != 2) throw std::invalid_argument("W1 must be [C/r, C]");
  const int64_t h = w1.shape(0);
  *pw1 = checked<float>(w1, "W1", {h, channels});
  *pb1 = checked<float>(b1, "b1", {h});
  *pw2 = checked<float>(w2, "W2", {channels, h});
  *pb2 = checked<float>(b2, "b2", {channels});
  return h;
}

namespace {

constexpr int64_t kGrain = 1 << 18;  // elements per thread, at the least

struct Shape {
  int64_t b, c, hw;
};

Shape check_x(py::array& x, const char* name) {
  if (x.ndim() != 4) throw std::invalid_argument(std::string(name) + " must be [B, C, H, W]");
  return {x.shape(0), x.shape(1), x.shape(2) * x.shape(3)};
}

void se_forward(py::array x, py::array w1, py::array b1, py::array w2, py::array b2, py::array out, py::array mean,
                int threads) {
  const Shape s = check_x(x, "x");
  const float* px = checked<float>(x, "x", {-1, -1, -1, -1});
  const float *pw1, *pb1, *pw2, *pb2;
  const int64_t h = check_se_weights(w1, b1, w2, b2, s.c, &pw1, &pb1, &pw2, &pb2);
  float* po = checked<float>(out, "out", {s.b, s.c, x.shape(2), x.shape(3)}, true);
  float* pm = checked<float>(mean, "mean", {s.b, s.c}, true);
  threads = plan_threads(threads, s.b * s.c * s.hw, kGrain);
  py::gil_scoped_release release;
  DynamicThreads dynamic;
  se_squeeze_cpu(px, s.b * s.c, s.hw, pm, threads);
  std::vector<float> scale(s.b * s.c), hidden(h);
  for (int64_t b = 0; b < s.b; ++b)
    se_mlp(pm + b * s.c, pw1, pb1, pw2, pb2, s.c, h, hidden.data(), scale.data() + b * s.c);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t p = 0; p < s.b * s.c; ++p) plane_affine(px + p * s.hw, scale[p], 0.f, po + p * s.hw, s.hw);
}

void se_backward(py::array grad, py::array x, py::array mean, py::array w1, py::array b1, py::array w2, py::array b2,
                 py::array dx, py::array dw1, py::array db1, py::array dw2, py::array db2, int threads) {
  const Shape s = check_x(x, "x");
  const float* px = checked<float>(x, "x", {-1, -1, -1, -1});
  const float* pg = checked<float>(grad, "grad", {s.b, s.c, x.shape(2), x.shape(3)});
  const float* pm = checked<float>(mean, "mean", {s.b, s.c});
  const float *pw1, *pb1, *pw2, *pb2;
  const int64_t h = check_se_weights(w1, b1, w2, b2, s.c, &pw1, &pb1, &pw2, &pb2);
  float* pdx = checked<float>(dx, "dx", {s.b, s.c, x.shape(2), x.shape(3)}, true);
  float* pdw1 = checked<float>(dw1, "dW1", {h, s.c}, true);
  float* pdb1 = checked<float>(db1, "db1", {h}, true);
  float* pdw2 = checked<float>(dw2, "dW2", {s.c, h}, true);
  float* pdb2 = checked<float>(db2, "db2", {s.c}, true);
  threads = plan_threads(threads, s.b * s.c * s.hw, kGrain);
  py::gil_scoped_release release;
  DynamicThreads dynamic;
  const int64_t planes = s.b * s.c;
  std::vector<float> dscale(planes);  // sum over the plane of grad * x
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t p = 0; p < planes; ++p) dscale[p] = plane_sum(pg + p * s.hw, px + p * s.hw, s.hw);
  std::vector<float> scale(planes), dmean(planes), hidden(h), dg(s.c), dh(h);
  std::fill(pdw1, pdw1 + h * s.c, 0.f);
  std::fill(pdb1, pdb1 + h, 0.f);
  std::fill(pdw2, pdw2 + s.c * h, 0.f);
  std::fill(pdb2, pdb2 + s.c, 0.f);
  for (int64_t b = 0; b < s.b; ++b) {
    const float* m = pm + b * s.c;
    float* sc = scale.data() + b * s.c;
    se_mlp(m, pw1, pb1, pw2, pb2, s.c, h, hidden.data(), sc);
    for (int64_t k = 0; k < s.c; ++k) {
      dg[k] = dscale[b * s.c + k] * sc[k] * (1.f - sc[k]);
      pdb2[k] += dg[k];
      for (int64_t j = 0; j < h; ++j) pdw2[k * h + j] += dg[k] * relu(hidden[j]);
    }
    for (int64_t j = 0; j < h; ++j) {
      float a = 0.f;
      for (int64_t k = 0; k < s.c; ++k) a += pw2[k * h + j] * dg[k];
      a = relu_grad(hidden[j], a);
      dh[j] = a;
      pdb1[j] += a;
      for (int64_t k = 0; k < s.c; ++k) pdw1[j * s.c + k] += a * m[k];
    }
    const float inv = s.hw > 0 ? 1.f / static_cast<float>(s.hw) : 0.f;
    for (int64_t k = 0; k < s.c; ++k) {
      float a = 0.f;
      for (int64_t j = 0; j < h; ++j) a += pw1[j * s.c + k] * dh[j];
      dmean[b * s.c + k] = a * inv;
    }
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t p = 0; p < planes; ++p) plane_affine(pg + p * s.hw, scale[p], dmean[p], pdx + p * s.hw, s.hw);
}

}  // namespace

void bind_se(py::module_& m) {
  m.def("se_forward", &se_forward, py::arg("x"), py::arg("w1"), py::arg("b1"), py::arg("w2"), py::arg("b2"),
        py::arg("out"), py::arg("mean"), py::arg("threads") = 1,
        "SE excitation of x [B, C, H, W] into out; the channel means [B, C] into mean.");
  m.def("se_backward", &se_backward, py::arg("grad"), py::arg("x"), py::arg("mean"), py::arg("w1"), py::arg("b1"),
        py::arg("w2"), py::arg("b2"), py::arg("dx"), py::arg("dw1"), py::arg("db1"), py::arg("dw2"), py::arg("db2"),
        py::arg("threads") = 1, "Gradients of se_forward w.r.t. x and the four weights, from grad of its output.");
}

}  // namespace vqdsp
