"""The kernels of vqdsp.model.ops against what one would write without them, on the CPU at 2 threads (``VQDSP_BENCH_THREADS``).

Each group times alternatives on the same input: the fused nearest-code search against
``torch.cdist`` + argmin + gather, the expanded-matmul formula in torch and FAISS ``IndexFlatL2``;
SE excitation against torch eager (and a read and a copy of the input, the memory-bandwidth yardsticks);
the fused SE + search against its unfused twins. ``extra_info`` holds the shapes, threads and
GFLOP/s beside the machine facts. Targets (see README, "Kernels") are goals, not assertions.
"""

from __future__ import annotations

import os
from functools import lru_cache

import pytest
import torch

from vqdsp.model import ops

THREADS = int(os.environ.get("VQDSP_BENCH_THREADS", "2"))  # the setting; 1 shows the kernels uncontended
SEARCH = [(4096, 512, 64), (65536, 512, 64), (65536, 1024, 128), (16384, 8192, 64)]
SEARCH_QUICK = [(64, 16, 8), (33, 5, 3)]
SE = [(16, 8, 264, 264), (16, 16, 132, 132), (16, 32, 66, 66), (16, 64, 33, 33)]  # the default model, batch 16
SE_QUICK = [(2, 8, 6, 6)]
FUSED = [(16, 64, 33, 33, 256), (64, 64, 33, 33, 1024)]  # the default model's bottleneck, then 4x batch and K
FUSED_QUICK = [(2, 8, 3, 3, 16)]

try:
    import faiss
except ImportError:  # the bench extra is not installed
    faiss = None


def quick() -> bool:
    """Tiny shapes (set by bench/conftest.py for ``--quick`` and ``--benchmark-disable``)."""
    return os.environ.get("VQDSP_BENCH_QUICK", "") not in ("", "0")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    quick_shapes = quick()
    for name, full, small in (("search_shape", SEARCH, SEARCH_QUICK), ("se_shape", SE, SE_QUICK),
                              ("fused_shape", FUSED, FUSED_QUICK)):
        if name in metafunc.fixturenames:
            shapes = small if quick_shapes else full
            metafunc.parametrize(name, shapes, ids=["x".join(map(str, s)) for s in shapes])


@pytest.fixture(scope="module", autouse=True)
def _threads() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    if faiss is not None:
        faiss.omp_set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


@lru_cache(maxsize=1)
def _tensors(*shapes: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(*s, generator=gen) for s in shapes)


def _best_seconds(benchmark) -> float | None:
    stats = getattr(benchmark, "stats", None)
    return None if stats is None else stats.stats.min


# ---- nearest-code search -----------------------------------------------------------------------


def _search_fn(method: str, z: torch.Tensor, cb: torch.Tensor):
    if method == "vqdsp":
        return lambda: ops.nearest_code(z, cb)
    if method == "torch.cdist":
        def cdist() -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.cdist(z, cb).argmin(1)
            return idx, cb[idx]
        return cdist
    if method == "torch matmul":
        def matmul() -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.addmm(cb.pow(2).sum(1)[None], z, cb.t(), alpha=-2).argmin(1)
            return idx, cb[idx]
        return matmul
    if faiss is None:
        pytest.skip("faiss is not installed (pip install vqdsp[bench])")
    index = faiss.IndexFlatL2(cb.shape[1])
    index.add(cb.numpy())
    zn = z.numpy()

    def flat_l2() -> tuple[torch.Tensor, torch.Tensor]:
        _, idx = index.search(zn, 1)
        idx = torch.from_numpy(idx[:, 0])
        return idx, cb[idx]
    return flat_l2


@pytest.fixture(params=sorted({1, THREADS}), ids=lambda t: f"{t}thread")
def search_threads(request: pytest.FixtureRequest) -> int:
    """The search at 1 thread and at ``THREADS``, so both scalings are measured in the same run."""
    torch.set_num_threads(request.param)
    if faiss is not None:
        faiss.omp_set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(THREADS)
    if faiss is not None:
        faiss.omp_set_num_threads(THREADS)


@pytest.mark.parametrize("method", ["vqdsp", "torch.cdist", "torch matmul", "faiss IndexFlatL2"])
def test_nearest_code(benchmark, method: str, search_shape: tuple[int, int, int], search_threads: int) -> None:
    n, k, d = search_shape
    z, cb = _tensors((n, d), (k, d))
    benchmark.group = f"search N={n} K={k} D={d} threads={search_threads}"
    benchmark.extra_info.update(n=n, k=k, d=d, threads=search_threads)
    benchmark(_search_fn(method, z, cb))
    seconds = _best_seconds(benchmark)
    if seconds:
        benchmark.extra_info["gflops"] = round(2 * n * k * d / seconds / 1e9, 1)


def test_matmul_peak(benchmark) -> None:
    """The yardstick of the search: fp32 GEMM throughput of torch (MKL/oneDNN) at 2 threads."""
    size = 64 if quick() else 2048
    a, b = _tensors((size, size), (size, size))
    out = torch.empty(size, size)
    benchmark.group = "matmul peak"
    benchmark.pedantic(torch.mm, (a, b), {"out": out}, rounds=3 if quick() else 15, warmup_rounds=1)
    seconds = _best_seconds(benchmark)
    if seconds:
        benchmark.extra_info["gflops"] = round(2 * size**3 / seconds / 1e9, 1)


# ---- SE excitation -------------------------------------------------------------------------------


def _se_inputs(b: int, c: int, h: int, w: int) -> tuple[torch.Tensor, ...]:
    hidden = max(1, c // 4)
    x, w1, b1, w2, b2 = _tensors((b, c, h, w), (hidden, c), (hidden,), (c, hidden), (c,))
    return x.relu(), w1 / c**0.5, b1, w2 / hidden**0.5, b2


@pytest.mark.parametrize("method", ["vqdsp", "torch eager", "clone (bandwidth)", "sum (bandwidth)"])
def test_se_forward(benchmark, method: str, se_shape: tuple[int, int, int, int]) -> None:
    """SE forward; its memory-bandwidth bound is one read (``x.sum()``) plus an allocating copy (``x.clone()``)."""
    x, *w = _se_inputs(*se_shape)
    benchmark.group = "SE forward B={} C={} {}x{}".format(*se_shape)
    benchmark.extra_info.update(shape=list(se_shape), megabytes=round(x.numel() * 4 / 2**20, 1), threads=THREADS)
    fn = {"vqdsp": lambda: ops.se_excite(x, *w), "torch eager": lambda: ops.reference_se_excite(x, *w),
          "clone (bandwidth)": x.clone, "sum (bandwidth)": x.sum}[method]
    with torch.no_grad():
        benchmark(fn)


@pytest.mark.parametrize("method", ["vqdsp", "torch eager"])
def test_se_training_step(benchmark, method: str, se_shape: tuple[int, int, int, int]) -> None:
    """Forward + backward to the input and the four weights."""
    inputs = [t.clone().requires_grad_() for t in _se_inputs(*se_shape)]
    grad = torch.ones_like(inputs[0])
    fn = ops.se_excite if method == "vqdsp" else ops.reference_se_excite
    benchmark.group = "SE forward+backward B={} C={} {}x{}".format(*se_shape)
    benchmark.extra_info.update(shape=list(se_shape), threads=THREADS)
    benchmark(lambda: torch.autograd.grad(fn(*inputs), inputs, grad))


# ---- the fused bottleneck --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["vqdsp fused", "vqdsp unfused", "torch"])
def test_se_nearest_code(benchmark, method: str, fused_shape: tuple[int, ...]) -> None:
    b, c, h, w, k = fused_shape
    y, *weights = _se_inputs(b, c, h, w)
    codebook = _tensors((k, c))[0] * 0.5

    def unfused() -> ops.NearestCode:
        z = ops.se_excite(y, *weights)
        return ops.nearest_code(z.permute(0, 2, 3, 1).reshape(-1, c), codebook)

    fn = {"vqdsp fused": lambda: ops.se_nearest_code(y, *weights, codebook), "vqdsp unfused": unfused,
          "torch": lambda: ops.reference_se_nearest_code(y, *weights, codebook)}[method]
    benchmark.group = f"SE + search B={b} C={c} {h}x{w} K={k}"
    benchmark.extra_info.update(shape=list(fused_shape), threads=THREADS)
    with torch.no_grad():
        benchmark(fn)
