// CUDA kernels of vqdsp._core: fused nearest-code search (one block per 64-row tile, codebook tiles in shared
// memory, 4x4 register blocking, warp-shuffle argmin), the SE excitation and its backward, and their fusion.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels.h"

namespace vqdsp {
namespace cuda {
namespace {

constexpr int kThreads = 256, kTileRows = 64, kTileCodes = 64, kTileDims = 32;
constexpr unsigned kFull = 0xffffffffu;

// Rows of z [N, D], row-major.
struct PlainRows {
  const float* z;
  int64_t d;
  static constexpr bool kRowFastest = false;  // coalesced loads walk along D
  static constexpr bool kStraightThrough = false;  // quantized is the code itself
  __device__ float at(int64_t n, int64_t c) const { return z[n * d + c]; }
  __device__ int64_t out(int64_t n, int64_t c) const { return n * d + c; }
};

// Row n = (b, p) of the SE-excited y [B, D, HW]: y[b, :, p] * scale[b, :]; the output is NCHW too.
struct ExcitedRows {
  const float* y;
  const float* scale;
  int64_t d, hw;
  static constexpr bool kRowFastest = true;  // coalesced loads walk along the positions p
  static constexpr bool kStraightThrough = true;  // quantized is z + (code - z): NaN where z is NaN or Inf
  __device__ float at(int64_t n, int64_t c) const {
    const int64_t b = n / hw, p = n - b * hw;
    return y[(b * d + c) * hw + p] * scale[b * d + c];
  }
  __device__ int64_t out(int64_t n, int64_t c) const {
    const int64_t b = n / hw, p = n - b * hw;
    return (b * d + c) * hw + p;
  }
};

__global__ void code_norms(const float* codebook, float* norms, int64_t k, int64_t d) {
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= k) return;
  float s = 0.f;
  for (int64_t c = 0; c < d; ++c) s = fmaf(codebook[j * d + c], codebook[j * d + c], s);
  norms[j] = s;
}

// Thread (ty, tx) of 16 x 16 owns rows ty*4 .. ty*4+3 and codes tx + 16 j (j < 4) of each 64-code tile.
template <class Rows>
__global__ void __launch_bounds__(kThreads)
    search(Rows rows, const float* codebook, const float* norms, int64_t n, int64_t k, int64_t d, int64_t* indices,
           float* quantized, float* distances) {
  __shared__ float zs[kTileDims][kTileRows + 1];
  __shared__ float cs[kTileDims][kTileCodes + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTileRows;
  float best[4];
  int64_t best_idx[4];
  for (int i = 0; i < 4; ++i) best[i] = __int_as_float(0x7f800000), best_idx[i] = 0;  // +inf
  for (int64_t k0 = 0; k0 < k; k0 += kTileCodes) {
    float acc[4][4] = {};
    for (int64_t d0 = 0; d0 < d; d0 += kTileDims) {
      for (int i = threadIdx.x; i < kTileRows * kTileDims; i += kThreads) {
        const int r = Rows::kRowFastest ? i % kTileRows : i / kTileDims;
        const int c = Rows::kRowFastest ? i / kTileRows : i % kTileDims;
        const int64_t row = row0 + r, dim = d0 + c;
        zs[c][r] = row < n && dim < d ? rows.at(row, dim) : 0.f;
        const int64_t code = k0 + i / kTileDims, cdim = d0 + i % kTileDims;
        cs[i % kTileDims][i / kTileDims] = code < k && cdim < d ? codebook[code * d + cdim] : 0.f;
      }
      __syncthreads();
#pragma unroll 8
      for (int c = 0; c < kTileDims; ++c) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = zs[c][ty * 4 + i], b[i] = cs[c][tx + 16 * i];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // codes in increasing order per thread: '<' keeps the lowest index
      const int64_t code = k0 + tx + 16 * j;
      if (code >= k) break;
      const float norm = norms[code];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float dist = fmaf(-2.f, acc[i][j], norm);
        if (dist < best[i]) best[i] = dist, best_idx[i] = code;
      }
    }
  }
  for (int i = 0; i < 4; ++i) {
    for (int off = 8; off > 0; off >>= 1) {  // argmin over the 16 lanes sharing these rows
      const float other = __shfl_xor_sync(kFull, best[i], off);
      const int64_t other_idx = __shfl_xor_sync(kFull, best_idx[i], off);
      if (other < best[i] || (other == best[i] && other_idx < best_idx[i])) best[i] = other, best_idx[i] = other_idx;
    }
    const int64_t row = row0 + ty * 4 + i;
    const float* code = codebook + best_idx[i] * d;
    float s = 0.f;
    if (row < n)
      for (int64_t c = tx; c < d; c += 16) {
        const float zc = rows.at(row, c), diff = zc - code[c];
        s = fmaf(diff, diff, s);
        quantized[rows.out(row, c)] = Rows::kStraightThrough && !isfinite(zc) ? __int_as_float(0x7fc00000) : code[c];
      }
    for (int off = 8; off > 0; off >>= 1) s += __shfl_xor_sync(kFull, s, off);
    if (row < n && tx == 0) indices[row] = best_idx[i], distances[row] = s;
  }
}


__device__ float block_sum(float v) {
  __shared__ float part[32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < blockDim.x / 32 ? part[lane] : 0.f;
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
  return v;
}

// out[p] = mul * sum over plane p of a (times b when kDot): the SE squeeze, or the gate gradient.
template <bool kDot>
__global__ void plane_sum(const float* a, const float* b, float* out, int64_t hw, float mul) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * hw;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < hw; i += blockDim.x) s += kDot ? a[base + i] * b[base + i] : a[base + i];
  s = block_sum(s);
  if (threadIdx.x == 0) out[blockIdx.x] = s * mul;
}

__device__ __forceinline__ float relu(float v) { return v < 0.f ? 0.f : v; }  // keeps NaN, as torch.relu does

// The SE gate MLP of batch item blockIdx.x, shared by the forward and the backward: the means into m, the
// pre-activations W1 m + b1 into hid (their ReLU into act[b, :] when act is given), then for each channel k
// emit(k, sigmoid(W2 relu(hid) + b2)[k]). m [c] and hid [h] are shared memory.
template <class Emit>
__device__ void gate_mlp(const float* mean, const float* w1, const float* b1, const float* w2, const float* b2,
                         float* m, float* hid, float* act, int64_t c, int64_t h, Emit emit) {
  const int64_t b = blockIdx.x;
  for (int64_t k = threadIdx.x; k < c; k += blockDim.x) m[k] = mean[b * c + k];
  __syncthreads();
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) {
    float s = b1[j];
    for (int64_t k = 0; k < c; ++k) s = fmaf(w1[j * c + k], m[k], s);
    hid[j] = s;
    if (act) act[b * h + j] = relu(s);
  }
  __syncthreads();
  for (int64_t k = threadIdx.x; k < c; k += blockDim.x) {
    float s = b2[k];
    for (int64_t j = 0; j < h; ++j) s = fmaf(w2[k * h + j], relu(hid[j]), s);
    emit(k, 1.f / (1.f + expf(-s)));
  }
}

// One block per batch item: gate[b, :] = sigmoid(W2 relu(W1 mean[b, :] + b1) + b2).
__global__ void se_gate(const float* mean, const float* w1, const float* b1, const float* w2, const float* b2,
                        float* gate, int64_t c, int64_t h) {
  extern __shared__ float sm[];
  const int64_t b = blockIdx.x;
  gate_mlp(mean, w1, b1, w2, b2, sm, sm + c, nullptr, c, h, [&](int64_t k, float sig) { gate[b * c + k] = sig; });
}

// One block per batch item: from ds = sum(grad * x) per plane, the gradients of the gate MLP's activations.
__global__ void se_gate_backward(const float* mean, const float* ds, const float* w1, const float* b1, const float* w2,
                                 const float* b2, float* dg, float* gate, float* dm, float* dh, float* act, int64_t c,
                                 int64_t h, float inv_hw) {
  extern __shared__ float sm[];
  float *hid = sm + c, *g = sm + c + h, *dhs = sm + 2 * c + h;
  const int64_t b = blockIdx.x;
  gate_mlp(mean, w1, b1, w2, b2, sm, hid, act, c, h, [&](int64_t k, float sig) {
    g[k] = ds[b * c + k] * sig * (1.f - sig);
    dg[b * c + k] = g[k];
    gate[b * c + k] = sig;
  });
  __syncthreads();
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) {
    float s = 0.f;
    for (int64_t k = 0; k < c; ++k) s = fmaf(w2[k * h + j], g[k], s);
    s = hid[j] <= 0.f ? 0.f : s;  // the ReLU's derivative, as torch's threshold_backward (a NaN hid passes s)
    dhs[j] = s;
    dh[b * h + j] = s;
  }
  __syncthreads();
  for (int64_t k = threadIdx.x; k < c; k += blockDim.x) {
    float s = 0.f;
    for (int64_t j = 0; j < h; ++j) s = fmaf(w1[j * c + k], dhs[j], s);
    dm[b * c + k] = s * inv_hw;
  }
}

// Weight gradients, summed over the batch: one thread (grid-stride) per entry of dW1, dW2, db1, db2.
__global__ void se_weight_grads(const float* mean, const float* dg, const float* dh, const float* act, float* dw1,
                                float* db1, float* dw2, float* db2, int64_t bsz, int64_t c, int64_t h) {
  const int64_t hc = h * c;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < 2 * hc + h + c;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = 0.f;
    if (e < hc) {
      const int64_t j = e / c, k = e % c;
      for (int64_t b = 0; b < bsz; ++b) s = fmaf(dh[b * h + j], mean[b * c + k], s);
      dw1[e] = s;
    } else if (e < 2 * hc) {
      const int64_t k = (e - hc) / h, j = (e - hc) % h;
      for (int64_t b = 0; b < bsz; ++b) s = fmaf(dg[b * c + k], act[b * h + j], s);
      dw2[e - hc] = s;
    } else if (e < 2 * hc + h) {
      for (int64_t b = 0; b < bsz; ++b) s += dh[b * h + (e - 2 * hc)];
      db1[e - 2 * hc] = s;
    } else if (e < 2 * hc + h + c) {
      for (int64_t b = 0; b < bsz; ++b) s += dg[b * c + (e - 2 * hc - h)];
      db2[e - 2 * hc - h] = s;
    }
  }
}

// out = x * gate[plane] (+ shift[plane] when given): the rescale, and dx = grad * gate + dmean / HW.
__global__ void channel_affine(const float* x, const float* gate, const float* shift, float* out, int64_t total,
                               int64_t hw) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = i / hw;
    out[i] = shift ? fmaf(x[i], gate[p], shift[p]) : x[i] * gate[p];
  }
}

unsigned blocks_for(int64_t total, int per_block) {
  const int64_t b = (total + per_block - 1) / per_block;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65536 ? 65536 : b));
}

// Runs the launches on `device`, then restores the caller's device and reports any launch error.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  static void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) throw std::runtime_error(std::string("vqdsp CUDA: ") + what + ": " + cudaGetErrorString(err));
  }
  void done(const char* what) { check(cudaGetLastError(), what); }

 private:
  int previous_ = 0;
};

template <class Rows>
void launch_search(const Rows& rows, cudaStream_t s, const float* codebook, float* norms, int64_t n, int64_t k,
                   int64_t d, int64_t* indices, float* quantized, float* distances) {
  code_norms<<<blocks_for(k, 128), 128, 0, s>>>(codebook, norms, k, d);
  if (n == 0) return;
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;
  if (tiles > 0x7fffffff) throw std::invalid_argument("too many rows for one launch");
  search<Rows><<<static_cast<unsigned>(tiles), kThreads, 0, s>>>(rows, codebook, norms, n, k, d, indices, quantized,
                                                                 distances);
}

void launch_gate(cudaStream_t s, const float* x, const float* w1, const float* b1, const float* w2, const float* b2,
                 float* mean, float* gate, int64_t b, int64_t c, int64_t hw, int64_t h) {
  if (b * c == 0) return;
  plane_sum<false><<<static_cast<unsigned>(b * c), kThreads, 0, s>>>(x, nullptr, mean, hw, hw > 0 ? 1.f / hw : 0.f);
  se_gate<<<static_cast<unsigned>(b), 128, (c + h) * sizeof(float), s>>>(mean, w1, b1, w2, b2, gate, c, h);
}

}  // namespace

void nearest_code(int device, uintptr_t stream, const float* z, const float* codebook, int64_t* indices,
                  float* quantized, float* distances, float* ws, int64_t n, int64_t k, int64_t d) {
  DeviceScope scope(device);
  launch_search(PlainRows{z, d}, reinterpret_cast<cudaStream_t>(stream), codebook, ws, n, k, d, indices, quantized,
                distances);
  scope.done("nearest_code");
}

void se_forward(int device, uintptr_t stream, const float* x, const float* w1, const float* b1, const float* w2,
                const float* b2, float* out, float* mean, float* ws, int64_t b, int64_t c, int64_t hw, int64_t h) {
  DeviceScope scope(device);
  auto s = reinterpret_cast<cudaStream_t>(stream);
  launch_gate(s, x, w1, b1, w2, b2, mean, ws, b, c, hw, h);
  if (b * c * hw > 0) channel_affine<<<blocks_for(b * c * hw, kThreads), kThreads, 0, s>>>(x, ws, nullptr, out, b * c * hw, hw);
  scope.done("se_forward");
}

void se_backward(int device, uintptr_t stream, const float* grad, const float* x, const float* mean, const float* w1,
                 const float* b1, const float* w2, const float* b2, float* dx, float* dw1, float* db1, float* dw2,
                 float* db2, float* ws, int64_t b, int64_t c, int64_t hw, int64_t h) {
  DeviceScope scope(device);
  auto s = reinterpret_cast<cudaStream_t>(stream);
  float *ds = ws, *dg = ws + b * c, *gate = ws + 2 * b * c, *dm = ws + 3 * b * c, *dh = ws + 4 * b * c,
        *act = ws + 4 * b * c + b * h;
  if (b > 0 && c > 0) {
    plane_sum<true><<<static_cast<unsigned>(b * c), kThreads, 0, s>>>(grad, x, ds, hw, 1.f);
    se_gate_backward<<<static_cast<unsigned>(b), 128, 2 * (c + h) * sizeof(float), s>>>(
        mean, ds, w1, b1, w2, b2, dg, gate, dm, dh, act, c, h, hw > 0 ? 1.f / hw : 0.f);
  }
  const int64_t weights = 2 * h * c + h + c;
  if (b == 0) {
    cudaMemsetAsync(dw1, 0, h * c * sizeof(float), s), cudaMemsetAsync(dw2, 0, h * c * sizeof(float), s);
    cudaMemsetAsync(db1, 0, h * sizeof(float), s), cudaMemsetAsync(db2, 0, c * sizeof(float), s);
  } else {
    se_weight_grads<<<blocks_for(weights, 128), 128, 0, s>>>(mean, dg, dh, act, dw1, db1, dw2, db2, b, c, h);
  }
  if (b * c * hw > 0) channel_affine<<<blocks_for(b * c * hw, kThreads), kThreads, 0, s>>>(grad, gate, dm, dx, b * c * hw, hw);
  scope.done("se_backward");
}

void se_nearest_code(int device, uintptr_t stream, const float* y, const float* w1, const float* b1, const float* w2,
                     const float* b2, const float* codebook, float* quantized, int64_t* indices, float* distances,
                     float* mean, float* ws, int64_t b, int64_t c, int64_t hw, int64_t k, int64_t h) {
  DeviceScope scope(device);
  auto s = reinterpret_cast<cudaStream_t>(stream);
  float* gate = ws + k;
  launch_gate(s, y, w1, b1, w2, b2, mean, gate, b, c, hw, h);
  launch_search(ExcitedRows{y, gate, c, hw}, s, codebook, ws, b * hw, k, c, indices, quantized, distances);
  scope.done("se_nearest_code");
}

}  // namespace cuda
}  // namespace vqdsp
