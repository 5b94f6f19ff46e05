"""Fuzz the custom ops against their references: shapes (empty, 1, odd), strides, dtypes, scales, NaN/Inf.

Hypothesis draws the cases (derandomized, so CI sees the same ones; no example database in the tree).
``make sanitize`` runs this file against an AddressSanitizer + UBSan build of the extension.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqdsp.model import ops

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = [torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16]  # float32 (the kernels) twice as often


def _layout(data: st.DataObject, t: torch.Tensor) -> torch.Tensor:
    """``t`` as it is, or the same values in a non-contiguous view (transposed storage, or every other element)."""
    how = data.draw(st.sampled_from(["contiguous", "transposed", "strided"]))
    if how == "transposed" and t.dim() >= 2:
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    if how == "strided" and t.numel():
        wide = torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype)
        wide[..., ::2] = t
        return wide[..., ::2]
    return t


def _spoil(data: st.DataObject, t: torch.Tensor) -> torch.Tensor:
    """``t`` with a few entries set to NaN, +Inf or -Inf (or left alone)."""
    t = t.clone()
    if t.numel():
        for _ in range(data.draw(st.integers(0, 3))):
            i = data.draw(st.integers(0, t.numel() - 1))
            t.view(-1)[i] = data.draw(st.sampled_from([float("nan"), float("inf"), -float("inf")]))
    return t


def _randn(data: st.DataObject, *shape: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31 - 1)))
    scale = data.draw(st.sampled_from([1e-3, 1.0, 30.0]))
    return torch.randn(*shape, generator=gen) * scale


def _quiet(fn, *args):  # the reference fallback's one-time warning is expected here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ops.ReferenceFallbackWarning)
        return fn(*args)


@FUZZ
@given(data=st.data(), n=st.integers(0, 150), k=st.integers(1, 200), d=st.integers(1, 70))
def test_nearest_code_matches_the_reference(data: st.DataObject, n: int, k: int, d: int) -> None:
    dtype = data.draw(st.sampled_from(DTYPES))
    z = _spoil(data, _randn(data, n, d)) if data.draw(st.booleans()) else _randn(data, n, d)
    cb = _randn(data, k, d)
    z, cb = _layout(data, z.to(dtype)), _layout(data, cb.to(dtype))
    out = ops.nearest_code(z, cb)
    ref = ops.reference_nearest_code(z, cb)
    assert out.indices.shape == (n,)
    assert out.quantized.shape == (n, d)
    assert out.quantized.dtype == dtype
    assert torch.all((out.indices >= 0) & (out.indices < k))
    assert torch.equal(out.quantized, cb[out.indices])
    z32, cb32 = z.float(), cb.float()
    finite = z32.isfinite().all(1)
    nan_rows = z32.isnan().any(1)
    assert torch.all(out.distances[nan_rows].isnan())
    assert torch.all(out.indices[nan_rows] == ref.indices[nan_rows])
    assert not out.distances[~finite].isfinite().any()
    # Finite rows: the code found is as near as the reference's, within fp32 rounding of the expanded form.
    exact = (z32[finite] - cb32[out.indices[finite]]).pow(2).sum(1)
    best = (z32[finite] - cb32[ref.indices[finite]]).pow(2).sum(1)
    scale = 1 + z32[finite].pow(2).sum(1) + cb32.pow(2).sum(1).max()
    assert torch.all(exact - best <= 2e-5 * scale)
    if finite.any():
        torch.testing.assert_close(out.distances[finite], exact, rtol=1e-4, atol=1e-4 * float(scale.max()))


@FUZZ
@given(data=st.data(), k=st.integers(1, 40), d=st.integers(1, 20))
def test_a_codebook_with_nan_or_inf_is_refused(data: st.DataObject, k: int, d: int) -> None:
    if ops._core is None:
        pytest.skip("the reference has no such check")
    cb = _randn(data, k, d)
    cb.view(-1)[data.draw(st.integers(0, k * d - 1))] = data.draw(st.sampled_from([float("nan"), float("inf")]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        ops.nearest_code(_randn(data, 5, d), cb)


def _se_sample(data: st.DataObject, b: int, c: int, h: int, w: int) -> list[torch.Tensor]:
    hidden = data.draw(st.integers(1, max(1, c)))
    dtype = data.draw(st.sampled_from(DTYPES[:3]))  # fp16/bf16 references are too coarse to compare gradients
    tensors = [_randn(data, b, c, h, w), _randn(data, hidden, c) / c**0.5, _randn(data, hidden),
               _randn(data, c, hidden) / hidden**0.5, _randn(data, c)]
    if data.draw(st.booleans()):
        where = data.draw(st.integers(0, 4))
        tensors[where] = _spoil(data, tensors[where])
    return [_layout(data, t.to(dtype)) for t in tensors]


@FUZZ
@given(data=st.data(), b=st.integers(0, 3), c=st.integers(1, 24), h=st.integers(1, 9), w=st.integers(1, 9))
def test_se_excite_matches_the_reference_with_gradients(data: st.DataObject, b: int, c: int, h: int, w: int) -> None:
    sample = [t.requires_grad_() for t in _se_sample(data, b, c, h, w)]
    got, want = _quiet(ops.se_excite, *sample), ops.reference_se_excite(*sample)
    tol = {"rtol": 1e-4, "atol": 1e-4, "equal_nan": True}
    torch.testing.assert_close(got, want, **tol)
    grad = torch.randn_like(got)
    for g, r in zip(torch.autograd.grad(got, sample, grad), torch.autograd.grad(want, sample, grad), strict=True):
        scale = 1 + float(r[r.isfinite()].abs().max()) if r.isfinite().any() else 1.0
        torch.testing.assert_close(g, r, rtol=1e-3, atol=1e-3 * scale, equal_nan=True)


@FUZZ
@given(data=st.data(), b=st.integers(1, 3), c=st.integers(1, 24), h=st.integers(1, 7), w=st.integers(1, 7), k=st.integers(1, 40))
def test_se_nearest_code_matches_the_reference(data: st.DataObject, b: int, c: int, h: int, w: int, k: int) -> None:
    sample = _se_sample(data, b, c, h, w)
    sample = [sample[0].float(), *(t.float() for t in sample[1:])]
    codebook = _randn(data, k, c)
    got = ops.se_nearest_code(*sample, codebook)
    ref = ops.reference_se_nearest_code(*sample, codebook)
    assert got.indices.shape == (b, h, w)
    assert torch.all((got.indices >= 0) & (got.indices < k))
    z = ops.reference_se_excite(*sample).permute(0, 2, 3, 1).reshape(-1, c)
    finite = z.isfinite().all(1)
    idx, ref_idx = got.indices.flatten(), ref.indices.flatten()
    exact = (z[finite] - codebook[idx[finite]]).pow(2).sum(1)
    best = (z[finite] - codebook[ref_idx[finite]]).pow(2).sum(1)
    scale = 1 + z[finite].pow(2).sum(1) + codebook.pow(2).sum(1).max()
    assert torch.all(exact - best <= 2e-5 * scale)
    assert torch.all(got.distances.flatten()[z.isnan().any(1)].isnan())


@FUZZ
@given(data=st.data())
def test_wrong_dtypes_and_shapes_are_clear_errors(data: st.DataObject) -> None:
    bad = data.draw(st.sampled_from([torch.int32, torch.int64, torch.bool, torch.uint8, torch.complex64]))
    d = data.draw(st.integers(1, 6))
    z, cb = torch.zeros(3, d), torch.zeros(4, d)
    which = data.draw(st.sampled_from(["z", "codebook"]))
    with pytest.raises(TypeError, match=f"nearest_code: {which} is {bad}"):
        ops.nearest_code(z.to(bad) if which == "z" else z, cb.to(bad) if which == "codebook" else cb)
    with pytest.raises(ValueError, match="D="):
        ops.nearest_code(z, torch.zeros(4, d + 1))
