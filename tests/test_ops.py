"""The custom ops of vqdsp.model.ops against their pure-PyTorch references (extension-cpp style).

Each op has a sample-input factory; every check runs as a ``_cpu`` / ``_cuda`` pair, the CUDA one
skipped without a GPU and a CUDA build of the extension.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vqdsp.model import ops

HAS_CORE = ops._core is not None
HAS_CUDA = HAS_CORE and ops._core.built_with_cuda() and torch.cuda.is_available()
needs_core = pytest.mark.skipif(not HAS_CORE, reason="the native extension was not built")
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device and a CUDA build of vqdsp._core")

# (N, K, D): not multiples of the SIMD width, K = 1, N = 0 or 1, large K, D past one CUDA tile.
SEARCH_SHAPES = [(0, 5, 3), (1, 1, 1), (1, 7, 64), (33, 1, 5), (97, 29, 13), (250, 513, 64), (40, 2049, 17), (7, 100, 131)]
# (B, C, H, W, reduction): the model's channels, odd sizes, a single pixel, hidden = 1.
SE_SHAPES = [(2, 8, 5, 7, 4), (1, 1, 1, 1, 1), (3, 16, 33, 33, 4), (2, 64, 1, 3, 4), (1, 6, 17, 4, 3)]


def search_inputs(device: str, requires_grad: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    samples = []
    for n, k, d in SEARCH_SHAPES:
        z, cb = torch.randn(n, d, generator=gen), torch.randn(k, d, generator=gen)
        samples.append((z.to(device).requires_grad_(requires_grad), cb.to(device).requires_grad_(requires_grad)))
    return samples


def se_inputs(device: str, requires_grad: bool = False) -> list[tuple[torch.Tensor, ...]]:
    gen = torch.Generator().manual_seed(1)
    samples = []
    for b, c, h, w, r in SE_SHAPES:
        hidden = max(1, c // r)
        tensors = (torch.randn(b, c, h, w, generator=gen).relu(), torch.randn(hidden, c, generator=gen) / c**0.5,
                   torch.randn(hidden, generator=gen), torch.randn(c, hidden, generator=gen) / hidden**0.5,
                   torch.randn(c, generator=gen))
        samples.append(tuple(t.to(device).requires_grad_(requires_grad) for t in tensors))
    return samples


def fused_inputs(device: str, requires_grad: bool = False) -> list[tuple[torch.Tensor, ...]]:
    gen = torch.Generator().manual_seed(2)
    samples = []
    for sample, k in zip(se_inputs("cpu"), (16, 1, 300, 33, 7), strict=True):
        cb = torch.randn(k, sample[0].shape[1], generator=gen) * 0.5
        samples.append(tuple(t.to(device).requires_grad_(requires_grad) for t in (*sample, cb)))
    return samples


def assert_nearest(result: ops.NearestCode, z: torch.Tensor, codebook: torch.Tensor) -> None:
    """Distances as small as the reference's within fp32 tolerance; indices may differ only at near-ties."""
    ref = ops.reference_nearest_code(z.detach(), codebook.detach())
    assert result.indices.dtype == torch.int64
    assert result.indices.shape == (z.shape[0],)
    assert torch.all((result.indices >= 0) & (result.indices < codebook.shape[0]))
    assert torch.equal(result.quantized.detach(), codebook.detach()[result.indices])
    scale = 1 + z.detach().pow(2).sum(1) + ref.quantized.pow(2).sum(1)
    assert torch.all((result.distances.detach() - ref.distances).abs() <= 1e-5 * scale)
    exact = (z.detach() - result.quantized.detach()).pow(2).sum(1)
    torch.testing.assert_close(result.distances.detach(), exact, rtol=1e-5, atol=1e-5)


# ---- nearest code ----------------------------------------------------------------------------------


def _test_nearest_values(device: str) -> None:
    for z, cb in search_inputs(device):
        assert_nearest(ops.nearest_code(z, cb), z, cb)


def test_nearest_values_cpu() -> None:
    _test_nearest_values("cpu")


@needs_cuda
def test_nearest_values_cuda() -> None:
    _test_nearest_values("cuda")


def _test_nearest_gradients(device: str) -> None:
    for z, cb in search_inputs(device, requires_grad=True):
        out = ops.nearest_code(z, cb)
        w_q, w_d = torch.randn_like(out.quantized), torch.randn_like(out.distances)
        got = torch.autograd.grad((out.quantized * w_q).sum() + (out.distances * w_d).sum(), (z, cb))
        q = cb[out.indices]  # the reference, on the same codes: straight through + d|z - q|^2
        quantized, distances = z + (q - z).detach(), (z - q).pow(2).sum(1)
        want = torch.autograd.grad((quantized * w_q).sum() + (distances * w_d).sum(), (z, cb))
        for g, r in zip(got, want, strict=True):
            torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)


def test_nearest_gradients_cpu() -> None:
    _test_nearest_gradients("cpu")


@needs_cuda
def test_nearest_gradients_cuda() -> None:
    _test_nearest_gradients("cuda")


def _test_nearest_opcheck(device: str) -> None:
    for z, cb in search_inputs(device, requires_grad=True)[1:5]:
        torch.library.opcheck(torch.ops.vqdsp.nearest_code.default, (z, cb))


def test_nearest_opcheck_cpu() -> None:
    _test_nearest_opcheck("cpu")


@needs_cuda
def test_nearest_opcheck_cuda() -> None:
    _test_nearest_opcheck("cuda")


def _test_ties_go_to_the_lowest_index(device: str) -> None:
    cb = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 3.0]] * 20, device=device)
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.5, 0.0], [0.0, 3.0]], device=device)
    assert ops.nearest_code(z, cb).indices.tolist() == [0, 0, 1, 0, 3]
    dup = torch.randn(37, 19, device=device).repeat(3, 1)  # every code three times: the first copy wins
    assert torch.all(ops.nearest_code(torch.randn(100, 19, device=device), dup).indices < 37)


def test_ties_go_to_the_lowest_index_cpu() -> None:
    _test_ties_go_to_the_lowest_index("cpu")


@needs_cuda
def test_ties_go_to_the_lowest_index_cuda() -> None:
    _test_ties_go_to_the_lowest_index("cuda")


def _test_non_finite_rows(device: str) -> None:
    z, cb = torch.randn(50, 20, device=device), torch.randn(40, 20, device=device)
    z[3, 5], z[7, 0], z[9, 2] = float("nan"), float("inf"), -float("inf")
    out, ref = ops.nearest_code(z, cb), ops.reference_nearest_code(z, cb)
    assert out.indices[3] == ref.indices[3] == 0
    assert out.distances[3].isnan()
    assert ref.distances[3].isnan()
    assert torch.all((out.indices >= 0) & (out.indices < 40))
    assert not out.distances[[7, 9]].isfinite().any()
    finite = torch.ones(50, dtype=torch.bool)
    finite[[3, 7, 9]] = False
    assert_nearest(ops.NearestCode(*(t[finite.to(device)] for t in (out.indices, out.quantized, out.distances))), z[finite.to(device)], cb)


def test_non_finite_rows_cpu() -> None:
    _test_non_finite_rows("cpu")


@needs_cuda
def test_non_finite_rows_cuda() -> None:
    _test_non_finite_rows("cuda")


@needs_core
def test_non_finite_codebook_is_an_error_cpu() -> None:
    cb = torch.randn(10, 4)
    cb[6, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        ops.nearest_code(torch.randn(5, 4), cb)


def test_bad_search_input_raises() -> None:
    op = torch.ops.vqdsp.nearest_code
    with pytest.raises(ValueError, match="D=3"):
        ops.nearest_code(torch.zeros(4, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="empty"):
        ops.nearest_code(torch.zeros(4, 3), torch.zeros(0, 3))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        ops.nearest_code(torch.zeros(4, 3, 1), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="device"):
        ops.nearest_code(torch.zeros(4, 3), torch.zeros(5, 3, device="meta"))
    with pytest.raises(TypeError, match="float32"):
        op(torch.zeros(4, 3, dtype=torch.float64), torch.zeros(5, 3))
    with pytest.raises(TypeError, match="float32"):
        op(torch.zeros(4, 3), torch.zeros(5, 3, dtype=torch.int32))


def test_other_layouts_and_dtypes_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "_warned", set())
    z, cb = torch.randn(19, 40).t(), torch.randn(33, 38)[::3, ::2]  # non-contiguous views
    assert_nearest(ops.nearest_code(z, cb), z, cb)
    z64, cb64 = torch.randn(10, 5, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64)
    out = ops.nearest_code(z64, cb64)
    assert_nearest(ops.NearestCode(out.indices, out.quantized.float(), out.distances), z64.float(), cb64.float())
    x, *w = (t.double() for t in se_inputs("cpu")[0])
    with pytest.warns(ops.ReferenceFallbackWarning, match="se_excite has no kernel for torch.float64"):
        torch.testing.assert_close(ops.se_excite(x, *w), ops.reference_se_excite(x, *w))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_nearest_code_keeps_the_codebook_dtype(dtype: torch.dtype) -> None:
    z, cb = torch.randn(40, 6).to(dtype), torch.randn(9, 6).to(dtype)
    out = ops.nearest_code(z, cb)
    assert out.quantized.dtype == dtype
    assert out.distances.dtype == torch.float32
    assert torch.equal(out.quantized, cb[out.indices])
    assert_nearest(ops.NearestCode(out.indices, out.quantized.float(), out.distances), z.float(), cb.float())


@pytest.mark.parametrize("bad", [torch.int64, torch.int32, torch.bool, torch.complex64, torch.uint8])
def test_non_float_dtypes_are_type_errors(bad: torch.dtype) -> None:
    z, cb = torch.randn(4, 3), torch.randn(5, 3)
    x, *w = se_inputs("cpu")[0]
    codebook = fused_inputs("cpu")[0][-1]
    with pytest.raises(TypeError, match=rf"nearest_code: z is {bad}.*call .float\(\)"):
        ops.nearest_code(z.to(bad), cb)
    with pytest.raises(TypeError, match=rf"nearest_code: codebook is {bad}"):
        ops.nearest_code(z, cb.to(bad))
    with pytest.raises(TypeError, match=rf"se_excite: x is {bad}"):
        ops.se_excite(x.to(bad), *w)
    with pytest.raises(TypeError, match=rf"se_excite: w2 is {bad}"):
        ops.se_excite(x, w[0], w[1], w[2].to(bad), w[3])
    with pytest.raises(TypeError, match=rf"se_nearest_code: codebook is {bad}"):
        ops.se_nearest_code(x, *w, codebook.to(bad))


def test_mixed_dtypes_are_type_errors() -> None:
    x, *w = se_inputs("cpu")[0]
    codebook = fused_inputs("cpu")[0][-1]
    with pytest.raises(TypeError, match="share one dtype, got z float32, codebook float64"):
        ops.nearest_code(torch.randn(4, 3), torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="se_excite: the tensors must share one dtype"):
        ops.se_excite(x.half(), *w)
    with pytest.raises(TypeError, match="se_nearest_code: the tensors must share one dtype.*codebook bfloat16"):
        ops.se_nearest_code(x, *w, codebook.bfloat16())


@needs_core
def test_a_fallback_is_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "_warned", set())
    x, *w = (t.double() for t in se_inputs("cpu")[0])

    def three_calls_each() -> None:
        for _ in range(3):
            ops.se_excite(x, *w)
            ops.se_nearest_code(x, *w, fused_inputs("cpu")[0][-1].double())

    with pytest.warns(ops.ReferenceFallbackWarning) as record:
        three_calls_each()
    assert [str(r.message).split(" has")[0] for r in record] == ["vqdsp: se_excite", "vqdsp: se_nearest_code"]


def test_meta_tensors_give_shapes() -> None:
    out = ops.nearest_code(torch.empty(7, 5, device="meta"), torch.empty(3, 5, device="meta"))
    assert out.indices.shape == (7,)
    assert out.quantized.shape == (7, 5)
    assert out.distances.shape == (7,)


@needs_core
@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_every_simd_path_cpu(isa: str) -> None:
    order = ["portable", "avx2", "avx512"]
    if order.index(isa) > order.index(ops._core.simd_isa()):
        pytest.skip(f"this CPU has no {isa}")
    for z, cb in search_inputs("cpu"):
        n, d = z.shape
        idx, q, dist = np.empty(n, np.int64), np.empty((n, d), np.float32), np.empty(n, np.float32)
        ops._core.nearest_code(z.numpy(), cb.numpy(), idx, q, dist, 2, isa)
        assert_nearest(ops.NearestCode(*map(torch.from_numpy, (idx, q, dist))), z, cb)


@needs_core
def test_more_threads_than_cores_cpu() -> None:
    z, cb = torch.randn(3001, 37), torch.randn(300, 37)
    x, *w = se_inputs("cpu")[2]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.nearest_code(z, cb), ops.se_excite(x, *w)
        torch.set_num_threads(4 * (torch.get_num_interop_threads() + 8))
        many = ops.nearest_code(z, cb), ops.se_excite(x, *w)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one[0].indices, many[0].indices)
    assert torch.equal(one[0].distances, many[0].distances)
    assert torch.equal(one[1], many[1])


def test_fallback_without_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "_core", None)
    monkeypatch.setattr(ops, "_warned", set())
    z, cb = search_inputs("cpu")[4]
    with pytest.warns(ops.ReferenceFallbackWarning, match="vqdsp._core is not built"):
        assert_nearest(ops.nearest_code(z, cb), z, cb)
    x, *w = se_inputs("cpu")[0]
    torch.testing.assert_close(ops.se_excite(x, *w), ops.reference_se_excite(x, *w))
    leaves = [t.clone().requires_grad_() for t in (x, *w)]
    grads = torch.autograd.grad(ops.se_excite(*leaves).square().sum(), leaves)
    want = torch.autograd.grad(ops.reference_se_excite(*leaves).square().sum(), leaves)
    for g, r in zip(grads, want, strict=True):
        torch.testing.assert_close(g, r)
    sample = fused_inputs("cpu")[0]
    got, ref = ops.se_nearest_code(*sample), ops.reference_se_nearest_code(*sample)
    assert torch.equal(got.indices, ref.indices)
    assert torch.equal(got.quantized, ref.quantized.contiguous())


# ---- SE excitation ---------------------------------------------------------------------------------


def _test_se_values(device: str) -> None:
    for sample in se_inputs(device):
        torch.testing.assert_close(ops.se_excite(*sample), ops.reference_se_excite(*sample), rtol=1e-5, atol=1e-6)


def test_se_values_cpu() -> None:
    _test_se_values("cpu")


@needs_cuda
def test_se_values_cuda() -> None:
    _test_se_values("cuda")


def _test_se_gradients(device: str) -> None:
    for sample in se_inputs(device, requires_grad=True):
        grad = torch.randn_like(sample[0])
        got = torch.autograd.grad(ops.se_excite(*sample), sample, grad)
        want = torch.autograd.grad(ops.reference_se_excite(*sample), sample, grad)
        for g, r in zip(got, want, strict=True):
            torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)


def test_se_gradients_cpu() -> None:
    _test_se_gradients("cpu")


@needs_cuda
def test_se_gradients_cuda() -> None:
    _test_se_gradients("cuda")


def _test_se_opcheck(device: str) -> None:
    for sample in se_inputs(device, requires_grad=True)[:3]:
        torch.library.opcheck(torch.ops.vqdsp.se_excite.default, sample)
        args = (torch.randn_like(sample[0]), sample[0].detach(), sample[0].detach().mean((2, 3)),
                *(t.detach() for t in sample[1:]))
        torch.library.opcheck(torch.ops.vqdsp.se_excite_backward.default, args)


def test_se_opcheck_cpu() -> None:
    _test_se_opcheck("cpu")


@needs_cuda
def test_se_opcheck_cuda() -> None:
    _test_se_opcheck("cuda")


def _test_se_propagates_nan(device: str) -> None:
    """A NaN anywhere in the input or the weights comes out as NaN where the reference has it (never 0)."""
    for where in range(5):
        x, *w = (t.clone().to(device) for t in se_inputs("cpu")[0])
        sample = [x, *w]
        sample[where].view(-1)[1] = float("nan")
        leaves = [t.requires_grad_() for t in sample]
        grad = torch.randn_like(x)
        got, want = ops.se_excite(*leaves), ops.reference_se_excite(*leaves)
        assert got.isnan().any()
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
        g_got = torch.autograd.grad(got, leaves, grad)
        g_want = torch.autograd.grad(want, leaves, grad)
        for g, r in zip(g_got, g_want, strict=True):
            torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5, equal_nan=True)
    x, *w = (t.to(device) for t in se_inputs("cpu")[0])  # a hidden unit that is NaN only after W1
    w1 = w[0].clone()
    w1[0, 0] = float("inf")
    w1[0, 1] = -float("inf")
    assert ops.reference_se_excite(x, w1, *w[1:]).isnan().all()
    torch.testing.assert_close(ops.se_excite(x, w1, *w[1:]), ops.reference_se_excite(x, w1, *w[1:]), equal_nan=True)


def test_se_propagates_nan_cpu() -> None:
    _test_se_propagates_nan("cpu")


def _test_se_nearest_code_quantized_is_nan_where_the_reference_is(device: str) -> None:
    """O1: NaN or Inf in y, or NaN in W1, gives NaN in ``quantized`` where the reference has it, not a finite code."""
    for where, value in ((0, float("nan")), (0, float("inf")), (0, -float("inf")), (1, float("nan"))):
        sample = [t.clone() for t in fused_inputs("cpu")[0]]
        sample[where].view(-1)[1] = value
        sample = [t.to(device) for t in sample]
        got, want = ops.se_nearest_code(*sample), ops.reference_se_nearest_code(*sample)
        assert want.quantized.isnan().any()
        assert torch.equal(got.quantized.isnan(), want.quantized.isnan()), (where, value)
        finite = ~want.quantized.isnan()
        torch.testing.assert_close(got.quantized[finite], want.quantized[finite], rtol=1e-5, atol=1e-6)


@needs_core
def test_se_nearest_code_quantized_is_nan_where_the_reference_is_cpu() -> None:
    _test_se_nearest_code_quantized_is_nan_where_the_reference_is("cpu")


@needs_cuda
def test_se_nearest_code_quantized_is_nan_where_the_reference_is_cuda() -> None:
    _test_se_nearest_code_quantized_is_nan_where_the_reference_is("cuda")


@needs_cuda
def test_se_propagates_nan_cuda() -> None:
    _test_se_propagates_nan("cuda")


def test_bad_se_input_raises() -> None:
    x, w1, b1, w2, b2 = se_inputs("cpu")[0]
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        ops.se_excite(x[0], w1, b1, w2, b2)
    with pytest.raises(ValueError, match="do not match"):
        ops.se_excite(x, w1[:, :3], b1, w2, b2)
    with pytest.raises(ValueError, match="do not match"):
        ops.se_excite(x, w1, b1, w2.t(), b2)
    with pytest.raises(TypeError, match="float32"):
        torch.ops.vqdsp.se_excite(x.double(), w1, b1, w2, b2)
    with pytest.raises(ValueError, match="device"):
        ops.se_excite(x, w1.to("meta"), b1, w2, b2)


@needs_core
def test_extension_checks_arrays_before_touching_them() -> None:
    core = ops._core
    z, cb = np.zeros((4, 3), np.float32), np.zeros((5, 3), np.float32)
    idx, q, dist = np.empty(4, np.int64), np.empty((4, 3), np.float32), np.empty(4, np.float32)
    with pytest.raises(ValueError, match="float32"):
        core.nearest_code(z.astype(np.float64), cb, idx, q, dist)
    with pytest.raises(ValueError, match="int64"):
        core.nearest_code(z, cb, idx.astype(np.int32), q, dist)
    with pytest.raises(ValueError, match="C-contiguous"):
        core.nearest_code(np.zeros((3, 4), np.float32).T, cb, idx, q, dist)
    with pytest.raises(ValueError, match="size 3"):
        core.nearest_code(z, cb, idx[:3], q, dist)
    q.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        core.nearest_code(z, cb, idx, q, dist)
    with pytest.raises(ValueError, match="isa"):
        core.nearest_code(z, cb, idx, np.empty((4, 3), np.float32), dist, 1, "sse9")
    x = np.zeros((2, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="W1"):
        core.se_forward(x, np.zeros((1, 5), np.float32), np.zeros(1, np.float32), np.zeros((4, 1), np.float32),
                        np.zeros(4, np.float32), np.empty_like(x), np.empty((2, 4), np.float32))


# ---- the fused bottleneck: SE excitation inside the nearest-code search -------------------------------------


def _test_fused_values_and_gradients(device: str) -> None:
    for sample in fused_inputs(device, requires_grad=True):
        got, want = ops.se_nearest_code(*sample), ops.reference_se_nearest_code(*sample)
        torch.testing.assert_close(got.quantized, want.quantized, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got.distances, want.distances, rtol=1e-4, atol=1e-5)
        assert torch.equal(got.indices, want.indices)  # well-separated random codes: no near-ties
        w_q, w_d = torch.randn_like(got.quantized), torch.randn_like(got.distances)
        grads = torch.autograd.grad((got.quantized * w_q).sum() + (got.distances * w_d).sum(), sample)
        refs = torch.autograd.grad((want.quantized * w_q).sum() + (want.distances * w_d).sum(), sample)
        for g, r in zip(grads, refs, strict=True):
            torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-4)


def test_fused_values_and_gradients_cpu() -> None:
    _test_fused_values_and_gradients("cpu")


@needs_cuda
def test_fused_values_and_gradients_cuda() -> None:
    _test_fused_values_and_gradients("cuda")


def _test_fused_opcheck(device: str) -> None:
    for sample in fused_inputs(device, requires_grad=True)[:2]:
        torch.library.opcheck(torch.ops.vqdsp.se_nearest_code.default, sample)


def test_fused_opcheck_cpu() -> None:
    _test_fused_opcheck("cpu")


@needs_cuda
def test_fused_opcheck_cuda() -> None:
    _test_fused_opcheck("cuda")


# ---- torch.compile ---------------------------------------------------------------------------------


def _test_compile(device: str) -> None:
    z, cb = search_inputs(device)[4]
    x, *w = se_inputs(device)[0]

    def step(z: torch.Tensor, cb: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        found = ops.nearest_code(z * 2, cb)
        return found.distances + found.quantized.sum(1), ops.se_excite(x + 1, *w)

    compiled = torch.compile(step, fullgraph=True)
    for got, want in zip(compiled(z, cb, x), step(z, cb, x), strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.slow
def test_compile_smoke_cpu() -> None:
    _test_compile("cpu")


@needs_cuda
def test_compile_smoke_cuda() -> None:
    _test_compile("cuda")
