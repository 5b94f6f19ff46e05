// Fused nearest-codebook search on the CPU. For each row z of [N, D], the code c of [K, D] that minimises
// |c|^2 - 2 z.c (ties to the lowest index, like torch.argmin), then the exact |z - c|^2 and the code itself.
// The N x K distances are never stored: a register-blocked micro-kernel (R rows x TW codes, TW = NV SIMD
// vectors) turns each tile of dot products into distances and folds them into a running minimum per lane.
// Rows are processed in blocks (OpenMP), codes in cache-sized blocks; the codebook is packed once per call
// into SIMD-friendly tiles with its norms. The micro-kernel is compiled for AVX-512, AVX2+FMA and a portable
// 128-bit path, and picked at run time. The SE-fused variant reads rows as y[b, :, h, w] * scale[b, :].
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

#define VQ_INLINE inline __attribute__((always_inline))

namespace vqdsp {
namespace {

typedef float f4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));
typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));
typedef float f16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer aligned_floats(size_t n) {
  size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
  if (!p) throw std::bad_alloc();
  return Buffer(p);
}

// Rows of z [N, D], row-major.
struct PlainRows {
  const float* z;
  int64_t d;
  VQ_INLINE float at(int64_t n, int64_t k) const { return z[n * d + k]; }
};

// Rows of the SE-excited features: row n = (b, p) of y [B, D, HW] is y[b, :, p] * scale[b, :].
struct ExcitedRows {
  const float* y;
  const float* scale;
  int64_t d, hw;
  VQ_INLINE float at(int64_t n, int64_t k) const {
    const int64_t b = n / hw, p = n - b * hw;
    return y[(b * d + k) * hw + p] * scale[b * d + k];
  }
};

// The codebook in tiles of TW codes: tile t holds [D][TW] values (code-minor), then norms of its TW codes.
// Codes past K are zero with an infinite norm, so they never win.
struct Packed {
  Buffer data;
  int64_t tiles = 0, tw = 0, d = 0;
  const float* tile(int64_t t) const { return data.get() + t * (d + 1) * tw; }
};

Packed pack_codebook(const float* cb, int64_t k, int64_t d, int64_t tw) {
  Packed p;
  p.tiles = (k + tw - 1) / tw;
  p.tw = tw;
  p.d = d;
  p.data = aligned_floats(static_cast<size_t>(p.tiles * (d + 1) * tw));
  for (int64_t t = 0; t < p.tiles; ++t) {
    float* dst = p.data.get() + t * (d + 1) * tw;
    for (int64_t j = 0; j < tw; ++j) {
      const int64_t code = t * tw + j;
      float norm = 0.f;
      for (int64_t c = 0; c < d; ++c) {
        const float v = code < k ? cb[code * d + c] : 0.f;
        dst[c * tw + j] = v;
        norm += v * v;
      }
      dst[d * tw + j] = code < k ? norm : std::numeric_limits<float>::infinity();
    }
  }
  return p;
}

constexpr int kRowTilesPerBlock = 8;

// One block of rows [row0, row0 + rows) against the whole codebook: best index of each row into idx.
// VF/VI: SIMD float/int vectors of V lanes; R rows x NV vectors of accumulators live in registers.
template <class VF, class VI, int R, int NV, class Rows>
VQ_INLINE void search_block(const Rows& src, const Packed& cb, int64_t k_tiles_per_block, int64_t row0, int64_t rows,
                            int64_t* idx) {
  constexpr int V = sizeof(VF) / sizeof(float), TW = V * NV;
  const int64_t d = cb.d;
  const int64_t n_tiles = (rows + R - 1) / R;
  // -2 z of each row tile, as [D][R]: the micro-kernel broadcasts one value per row and dimension.
  std::vector<float> ztiles(static_cast<size_t>(n_tiles * d * R));
  for (int64_t t = 0; t < n_tiles; ++t)
    for (int r = 0; r < R; ++r) {
      const int64_t n = row0 + t * R + r;
      for (int64_t c = 0; c < d; ++c) ztiles[(t * d + c) * R + r] = t * R + r < rows ? -2.f * src.at(n, c) : 0.f;
    }
  VF best[kRowTilesPerBlock][R][NV];
  VI best_idx[kRowTilesPerBlock][R][NV];
  for (int64_t t = 0; t < n_tiles; ++t)
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < NV; ++v) {
        best[t][r][v] = VF{} + std::numeric_limits<float>::infinity();
        best_idx[t][r][v] = VI{};
      }
  VI lane{};
  for (int i = 0; i < V; ++i) lane[i] = i;

  for (int64_t k0 = 0; k0 < cb.tiles; k0 += k_tiles_per_block) {  // cache blocking over codes
    const int64_t k1 = std::min(cb.tiles, k0 + k_tiles_per_block);
    for (int64_t t = 0; t < n_tiles; ++t) {
      const float* zt = ztiles.data() + t * d * R;
      for (int64_t kt = k0; kt < k1; ++kt) {
        const float* ct = cb.tile(kt);
        VF acc[R][NV];
        const VF* norms = reinterpret_cast<const VF*>(ct + d * TW);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[r][v] = norms[v];
        for (int64_t c = 0; c < d; ++c) {
          const VF* code = reinterpret_cast<const VF*>(ct + c * TW);
          VF cv[NV];
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) cv[v] = code[v];
#pragma GCC unroll 16
          for (int r = 0; r < R; ++r) {
            const float zr = zt[c * R + r];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] += zr * cv[v];
          }
        }
        // acc = |c|^2 - 2 z.c; a lane sees its codes in increasing order, so '<' keeps the lowest index.
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) {
            const VI take = acc[r][v] < best[t][r][v];
            const VI code = lane + static_cast<int32_t>(kt * TW + v * V);
            best[t][r][v] = (VF)((take & (VI)acc[r][v]) | (~take & (VI)best[t][r][v]));
            best_idx[t][r][v] = (take & code) | (~take & best_idx[t][r][v]);
          }
      }
    }
  }
  for (int64_t t = 0; t < n_tiles; ++t)
    for (int r = 0; r < R && t * R + r < rows; ++r) {
      float bv = std::numeric_limits<float>::infinity();
      int32_t bi = 0;
      for (int v = 0; v < NV; ++v)
        for (int i = 0; i < V; ++i) {
          const float x = best[t][r][v][i];
          const int32_t j = best_idx[t][r][v][i];
          if (x < bv || (x == bv && j < bi)) bv = x, bi = j;
        }
      idx[row0 + t * R + r] = bi;
    }
}

enum class Isa { kPortable, kAvx2, kAvx512 };

#if defined(__GNUC__) && defined(__x86_64__)
#define VQ_X86 1
#endif

Isa best_isa() {
#ifdef VQ_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kPortable;
}

Isa parse_isa(const std::string& name) {
  const Isa host = best_isa();
  Isa want;
  if (name == "auto") return host;
  if (name == "portable") want = Isa::kPortable;
  else if (name == "avx2") want = Isa::kAvx2;
  else if (name == "avx512") want = Isa::kAvx512;
  else throw std::invalid_argument("isa must be 'auto', 'portable', 'avx2' or 'avx512', got '" + name + "'");
  if (static_cast<int>(want) > static_cast<int>(host))
    throw std::invalid_argument("this CPU does not support isa '" + name + "'");
  return want;
}

const char* isa_name(Isa isa) {
  return isa == Isa::kAvx512 ? "avx512" : isa == Isa::kAvx2 ? "avx2" : "portable";
}

int64_t tile_width(Isa isa) { return isa == Isa::kAvx512 ? 32 : isa == Isa::kAvx2 ? 16 : 8; }
int64_t row_tile(Isa isa) { return isa == Isa::kAvx512 ? 12 : 6; }

// Micro-kernel instances, one per ISA (compiled for its own target) and row source (overloads).
#ifdef VQ_X86
#define VQ_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define VQ_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#else
#define VQ_TARGET_AVX2
#define VQ_TARGET_AVX512
#endif
#define VQ_INSTANCES(Rows)                                                                                   \
  void kernel_portable(const Rows& s, const Packed& cb, int64_t kb, int64_t r0, int64_t n, int64_t* idx) {  \
    search_block<f4, i4, 6, 2>(s, cb, kb, r0, n, idx);                                                       \
  }                                                                                                          \
  VQ_TARGET_AVX2 void kernel_avx2(const Rows& s, const Packed& cb, int64_t kb, int64_t r0, int64_t n,       \
                                  int64_t* idx) {                                                            \
    search_block<f8, i8, 6, 2>(s, cb, kb, r0, n, idx);                                                       \
  }                                                                                                          \
  VQ_TARGET_AVX512 void kernel_avx512(const Rows& s, const Packed& cb, int64_t kb, int64_t r0, int64_t n,   \
                                      int64_t* idx) {                                                        \
    search_block<f16, i16, 12, 2>(s, cb, kb, r0, n, idx);                                                    \
  }
VQ_INSTANCES(PlainRows)
VQ_INSTANCES(ExcitedRows)

// Search all rows, then hand each row, its code and the exact |z - code|^2 to `emit(n, code, dist)`.
template <class Rows, class Emit>
void search(const Rows& src, const float* codebook, int64_t n, int64_t k, int64_t d, Isa isa, int threads,
            int64_t* idx, Emit emit) {
  if (n == 0) return;
  const int64_t tw = tile_width(isa), rt = row_tile(isa);
  const Packed cb = pack_codebook(codebook, k, d, tw);
  for (int64_t t = 0; t < cb.tiles; ++t) {
    const float* norms = cb.tile(t) + d * tw;
    for (int64_t j = 0; j < tw && t * tw + j < k; ++j)
      if (!std::isfinite(norms[j]))
        throw std::invalid_argument("the codebook has a NaN or Inf entry, or a code too large to square in float32 "
                                    "(code " + std::to_string(t * tw + j) + ")");
  }
  // Codes per cache block: about 256 KiB of packed codebook, shared by a whole block of rows.
  const int64_t k_tiles_per_block = std::max<int64_t>(1, (256 * 1024) / (tw * (d + 1) * 4));
  const int64_t block = rt * kRowTilesPerBlock, n_blocks = (n + block - 1) / block;
  threads = std::min(plan_threads(threads, n * k * d, int64_t{1} << 22), static_cast<int>(std::min<int64_t>(n_blocks, 1 << 20)));
  // No dynamic adjustment of the thread count here (libgomp's drops to one thread whenever the load average
  // says the cores are busy, so 2 threads never scaled): blocks are handed out one at a time, so a thread
  // that the OS deschedules delays the others by at most the one block it holds.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t blk = 0; blk < n_blocks; ++blk) {
    const int64_t r0 = blk * block, rows = std::min(block, n - r0);
    if (isa == Isa::kAvx512)
      kernel_avx512(src, cb, k_tiles_per_block, r0, rows, idx);
    else if (isa == Isa::kAvx2)
      kernel_avx2(src, cb, k_tiles_per_block, r0, rows, idx);
    else
      kernel_portable(src, cb, k_tiles_per_block, r0, rows, idx);
    for (int64_t i = r0; i < r0 + rows; ++i) {
      const float* code = codebook + idx[i] * d;
      float s = 0.f;
      for (int64_t c = 0; c < d; ++c) {
        const float diff = src.at(i, c) - code[c];
        s += diff * diff;
      }
      emit(i, code, s);
    }
  }
}

void nearest_code(py::array z, py::array codebook, py::array indices, py::array quantized, py::array distances,
                  int threads, const std::string& isa) {
  if (z.ndim() != 2 || codebook.ndim() != 2)
    throw std::invalid_argument("nearest_code expects z [N, D] and codebook [K, D]");
  const int64_t n = z.shape(0), d = z.shape(1), k = codebook.shape(0);
  if (codebook.shape(1) != d)
    throw std::invalid_argument("z and codebook must have the same D, got " + std::to_string(d) + " and " +
                                std::to_string(codebook.shape(1)));
  if (k == 0) throw std::invalid_argument("the codebook is empty (K = 0)");
  if (k > std::numeric_limits<int32_t>::max()) throw std::invalid_argument("the codebook has more than 2^31 codes");
  const float* pz = checked<float>(z, "z", {n, d});
  const float* pc = checked<float>(codebook, "codebook", {k, d});
  int64_t* pi = checked<int64_t>(indices, "indices", {n}, true);
  float* pq = checked<float>(quantized, "quantized", {n, d}, true);
  float* pd = checked<float>(distances, "distances", {n}, true);
  const Isa which = parse_isa(isa);
  py::gil_scoped_release release;
  search(PlainRows{pz, d}, pc, n, k, d, which, threads, pi, [&](int64_t i, const float* code, float dist) {
    std::memcpy(pq + i * d, code, d * sizeof(float));
    pd[i] = dist;
  });
}

void se_nearest_code(py::array y, py::array w1, py::array b1, py::array w2, py::array b2, py::array codebook,
                     py::array quantized, py::array indices, py::array distances, py::array mean, int threads,
                     const std::string& isa) {
  if (y.ndim() != 4) throw std::invalid_argument("se_nearest_code expects y [B, C, H, W]");
  const int64_t b = y.shape(0), d = y.shape(1), hw = y.shape(2) * y.shape(3), n = b * hw;
  if (codebook.ndim() != 2 || codebook.shape(1) != d)
    throw std::invalid_argument("the codebook must be [K, C] with C = " + std::to_string(d) + " channels of y");
  const int64_t k = codebook.shape(0);
  if (k == 0) throw std::invalid_argument("the codebook is empty (K = 0)");
  if (k > std::numeric_limits<int32_t>::max()) throw std::invalid_argument("the codebook has more than 2^31 codes");
  const float* py_ = checked<float>(y, "y", {-1, -1, -1, -1});
  const float *pw1, *pb1, *pw2, *pb2;
  const int64_t h = check_se_weights(w1, b1, w2, b2, d, &pw1, &pb1, &pw2, &pb2);
  const float* pc = checked<float>(codebook, "codebook", {k, d});
  float* pq = checked<float>(quantized, "quantized", {b, d, y.shape(2), y.shape(3)}, true);
  int64_t* pi = checked<int64_t>(indices, "indices", {n}, true);
  float* pd = checked<float>(distances, "distances", {n}, true);
  float* pm = checked<float>(mean, "mean", {b, d}, true);
  const Isa which = parse_isa(isa);
  py::gil_scoped_release release;
  {
    DynamicThreads dynamic;
    se_squeeze_cpu(py_, b * d, hw, pm, plan_threads(threads, b * d * hw, int64_t{1} << 18));
  }
  std::vector<float> scale(b * d), hidden(h);
  for (int64_t i = 0; i < b; ++i) se_mlp(pm + i * d, pw1, pb1, pw2, pb2, d, h, hidden.data(), scale.data() + i * d);
  // `quantized` is the straight-through z + (code - z): the code, but NaN where the excited feature z is
  // NaN or Inf, as the reference has it (a code there would hide a broken input or weight).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  search(ExcitedRows{py_, scale.data(), d, hw}, pc, n, k, d, which, threads, pi,
         [&](int64_t i, const float* code, float dist) {
           const int64_t bi = i / hw, p = i - bi * hw;
           for (int64_t c = 0; c < d; ++c) {
             const int64_t at = (bi * d + c) * hw + p;
             pq[at] = std::isfinite(py_[at] * scale[bi * d + c]) ? code[c] : nan;
           }
           pd[i] = dist;
         });
}

}  // namespace

void bind_nearest_code(py::module_& m) {
  m.def("nearest_code", &nearest_code, py::arg("z"), py::arg("codebook"), py::arg("indices"), py::arg("quantized"),
        py::arg("distances"), py::arg("threads") = 1, py::arg("isa") = "auto",
        "Nearest code of each row of z [N, D] among codebook [K, D] (float32, C-contiguous), written into\n"
        "indices [N] (int64), quantized [N, D] and distances [N] (exact squared L2).");
  m.def("se_nearest_code", &se_nearest_code, py::arg("y"), py::arg("w1"), py::arg("b1"), py::arg("w2"), py::arg("b2"),
        py::arg("codebook"), py::arg("quantized"), py::arg("indices"), py::arg("distances"), py::arg("mean"),
        py::arg("threads") = 1, py::arg("isa") = "auto",
        "Nearest code of the SE-excited features of y [B, C, H, W], rows in (b, h, w) order, without writing\n"
        "them out: quantized [B, C, H, W], indices [B*H*W], distances [B*H*W] and the channel means [B, C].");
  m.def("simd_isa", [] { return isa_name(best_isa()); }, "The SIMD path the nearest-code search takes here.");
}

}  // namespace vqdsp
