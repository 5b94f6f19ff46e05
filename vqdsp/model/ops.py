"""Kernels of the quantizer bottleneck as torch custom ops, each beside its pure-PyTorch reference.

Every op is a ``torch.library.custom_op`` (namespace ``vqdsp``) with a fake implementation, so it works
under ``torch.compile``, and ``register_autograd`` where a gradient is needed. The compiled extension
(``vqdsp._core``, plain pybind11) does the work for float32 tensors on the CPU, and on CUDA when it was
built with a CUDA compiler; without it the op computes its ``reference_*`` twin instead and says so once
(:class:`ReferenceFallbackWarning`). The public functions take float16, bfloat16, float32 and float64
(one dtype per call): :func:`nearest_code` searches in float32 and returns codes in the codebook's
dtype; the SE ops run the reference for dtypes other than float32 (with the same one-time warning).
Under ``torch.onnx.export`` they trace their references, silently (:func:`exporting`; see :mod:`vqdsp.model.export`).
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def _load_core():  # the extension module, or None
    """The compiled kernels: ``vqdsp._core``, or the build at ``$VQDSP_CORE`` (``make sanitize``'s ASan build)."""
    path = os.environ.get("VQDSP_CORE")
    if path:
        import importlib.util

        spec = importlib.util.spec_from_file_location("vqdsp._core", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"VQDSP_CORE={path} is not a loadable extension module")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["vqdsp._core"] = module  # a later `import vqdsp._core` gets this build too
        return module
    try:
        from vqdsp import _core
    except ImportError:  # not built: every op runs its reference (with a warning, once)
        return None
    return _core


_core = _load_core()

__all__ = [
    "ExcitedNearestCode",
    "NearestCode",
    "ReferenceFallbackWarning",
    "exporting",
    "nearest_code",
    "reference_nearest_code",
    "reference_se_excite",
    "reference_se_nearest_code",
    "se_excite",
    "se_nearest_code",
]


@dataclass
class NearestCode:
    """Result of a nearest-codebook search.

    Args:
        indices: ``[N]`` int64, index of the nearest code (ties go to the lowest index).
        quantized: ``[N, D]`` the nearest code vectors; from :func:`nearest_code` it carries the
            straight-through gradient to ``z`` (none to the codebook).
        distances: ``[N]`` squared L2 distance to the nearest code, ``|z - quantized|^2``; its
            gradient reaches both ``z`` and the codebook.
    """

    indices: Tensor
    quantized: Tensor
    distances: Tensor


@dataclass
class ExcitedNearestCode:
    """Result of :func:`se_nearest_code`: the nearest code of each position of the SE-excited features.

    Args:
        quantized: ``[B, C, H, W]`` code vectors, with the straight-through gradient to the excited features.
        indices: ``[B, H, W]`` int64 code indices.
        distances: ``[B, H, W]`` squared L2 distance between the excited feature vector and its code.
    """

    quantized: Tensor
    indices: Tensor
    distances: Tensor


class ReferenceFallbackWarning(UserWarning):
    """An op ran its pure-torch reference where a compiled kernel was expected: same results, slower."""


_warned: set[str] = set()  # fallback reasons already reported in this process


def _warn_fallback(reason: str) -> None:
    """Warn once per process and reason that the reference runs instead of a kernel."""
    if reason not in _warned:
        _warned.add(reason)
        warnings.warn(f"vqdsp: {reason}; running the pure-torch reference instead (slower)", ReferenceFallbackWarning, stacklevel=3)


# ---- references -------------------------------------------------------------------------------


def reference_nearest_code(z: Tensor, codebook: Tensor) -> NearestCode:
    """Nearest code of each row of ``z [N, D]`` among ``codebook [K, D]``, in plain PyTorch (fp32).

    Values only: ``quantized`` is ``codebook[indices]`` (gradient to the codebook, like an embedding).
    A row with NaN gets index 0 and a NaN distance, like ``torch.argmin``.
    """
    z32, cb32 = z.float(), codebook.float()
    expanded = cb32.pow(2).sum(1)[None, :] - 2 * z32 @ cb32.t()  # + |z|^2, the same for every code
    indices = expanded.argmin(dim=1)
    quantized = codebook[indices]
    return NearestCode(indices, quantized, (z32 - quantized.float()).pow(2).sum(1))


def reference_se_excite(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """Squeeze-and-Excitation of ``x [B, C, H, W]``: ``x * sigmoid(W2 relu(W1 mean(x) + b1) + b2)``."""
    return x * _gate(x.mean(dim=(2, 3)), w1, b1, w2, b2)[:, :, None, None]


def reference_se_nearest_code(
    y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, codebook: Tensor
) -> ExcitedNearestCode:
    """:func:`se_nearest_code` unfused: excite ``y``, write the features out, search, with the same gradients."""
    z = reference_se_excite(y, w1, b1, w2, b2)
    b, c, h, w = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(-1, c)
    indices = reference_nearest_code(flat.detach(), codebook.detach()).indices
    q = F.embedding(indices, codebook)
    distances = (flat - q).pow(2).sum(1).view(b, h, w)
    quantized = z + (q.view(b, h, w, c).permute(0, 3, 1, 2) - z).detach()
    return ExcitedNearestCode(quantized, indices.view(b, h, w), distances)


def _gate(mean: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    return torch.sigmoid(F.linear(F.relu(F.linear(mean, w1, b1)), w2, b2))


# ---- public functions -------------------------------------------------------------------------


def exporting() -> bool:
    """True during ``torch.onnx.export``: the public functions then trace their references, so the
    graph holds standard ONNX ops only (no custom op a runtime would need a plugin for).

    ``torch.onnx`` is not imported here: until something has imported it, no export can be running.
    """
    exporter = sys.modules.get("torch.onnx")
    return exporter is not None and exporter.is_in_onnx_export()


def nearest_code(z: Tensor, codebook: Tensor) -> NearestCode:
    """Nearest code of each row of ``z [N, D]`` among ``codebook [K, D]``, computed in fp32.

    The ``N x K`` distances are never stored. ``quantized`` has the codebook's dtype, ``distances``
    are float32. See :class:`NearestCode` for the gradients.
    """
    _check_dtypes("nearest_code", z=z, codebook=codebook)
    _check_search(z, codebook, "z")
    if exporting():
        return reference_nearest_code(z, codebook)
    quantized, indices, distances = torch.ops.vqdsp.nearest_code(z.float(), codebook.float())
    return NearestCode(indices, quantized.to(codebook.dtype), distances)


def se_excite(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """Squeeze-and-Excitation of ``x [B, C, H, W]`` with weights ``W1 [C/r, C]``, ``b1``, ``W2 [C, C/r]``, ``b2``."""
    _check_dtypes("se_excite", x=x, w1=w1, b1=b1, w2=w2, b2=b2)
    _check_se(x, w1, b1, w2, b2, "x")
    if exporting():
        return reference_se_excite(x, w1, b1, w2, b2)
    if x.dtype != torch.float32:
        _warn_fallback(f"se_excite has no kernel for {x.dtype} (call .float() for the kernel)")
        return reference_se_excite(x, w1, b1, w2, b2)
    return torch.ops.vqdsp.se_excite(x, w1, b1, w2, b2)[0]


def se_nearest_code(y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, codebook: Tensor) -> ExcitedNearestCode:
    """Nearest code of each position of ``se_excite(y, ...)``, without writing the excited features out.

    Args:
        y: ``[B, C, H, W]`` features before their SE block; C is the code dimension.
        w1, b1, w2, b2: the SE weights, as for :func:`se_excite`.
        codebook: ``[K, C]`` code vectors.
    """
    _check_dtypes("se_nearest_code", y=y, w1=w1, b1=b1, w2=w2, b2=b2, codebook=codebook)
    _check_se(y, w1, b1, w2, b2, "y")
    _check_codebook(codebook, y.shape[1], y.device, "y")
    if exporting():
        return reference_se_nearest_code(y, w1, b1, w2, b2, codebook)
    if y.dtype != torch.float32:
        _warn_fallback(f"se_nearest_code has no kernel for {y.dtype} (call .float() for the kernel)")
        return reference_se_nearest_code(y, w1, b1, w2, b2, codebook)
    quantized, indices, distances, _ = torch.ops.vqdsp.se_nearest_code(y, w1, b1, w2, b2, codebook)
    b, _, h, w = y.shape
    return ExcitedNearestCode(quantized, indices.view(b, h, w), distances.view(b, h, w))


# ---- checks -----------------------------------------------------------------------------------


def _check_search(z: Tensor, codebook: Tensor, name: str) -> None:
    if z.dim() != 2 or codebook.dim() != 2:
        raise ValueError(f"nearest_code expects z [N, D] and codebook [K, D], got {tuple(z.shape)} and {tuple(codebook.shape)}")
    _check_codebook(codebook, z.shape[1], z.device, name)


def _check_codebook(codebook: Tensor, dim: int, device: torch.device, name: str) -> None:
    if codebook.dim() != 2 or codebook.shape[1] != dim:
        raise ValueError(f"{name} has D={dim} but the codebook is {tuple(codebook.shape)}; expected [K, {dim}]")
    if codebook.shape[0] == 0:
        raise ValueError("the codebook is empty (K = 0)")
    if codebook.device != device:
        raise ValueError(f"{name} is on {device} but the codebook is on {codebook.device}: move both to one device")


def _check_se(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"SE expects {name} of shape [B, C, H, W], got {tuple(x.shape)}")
    hidden, channels = w1.shape if w1.dim() == 2 else (-1, -1)
    if channels != x.shape[1] or w2.shape != (channels, hidden) or b1.shape != (hidden,) or b2.shape != (channels,):
        raise ValueError(
            f"SE weights do not match {name} with {x.shape[1]} channels: W1 {tuple(w1.shape)}, "
            f"b1 {tuple(b1.shape)}, W2 {tuple(w2.shape)}, b2 {tuple(b2.shape)} (expected [C/r, C], [C/r], [C, C/r], [C])"
        )
    if any(t.device != x.device for t in (w1, b1, w2, b2)):
        raise ValueError(f"the SE weights must be on {name}'s device {x.device}")


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_dtypes(op: str, **tensors: Tensor) -> None:
    """TypeError unless every tensor is a real float (fp16, bf16, fp32, fp64), all of one dtype."""
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in _FLOATS:
            raise TypeError(f"{op}: {name} is {t.dtype}; it takes float32 (or float16, bfloat16, float64) tensors: call .float()")
    dtypes = {name: t.dtype for name, t in tensors.items()}
    if len(set(dtypes.values())) > 1:
        shown = ", ".join(f"{name} {str(d).removeprefix('torch.')}" for name, d in dtypes.items())
        raise TypeError(f"{op}: the tensors must share one dtype, got {shown}: convert them all, e.g. with .float()")


def _check_float32(**tensors: Tensor) -> None:
    for name, t in tensors.items():
        if t.dtype != torch.float32:
            raise TypeError(f"{name} must be float32, got {t.dtype}: call .float() first")


# ---- the custom ops ---------------------------------------------------------------------------


def _backend(t: Tensor) -> str | None:
    """Where the compiled kernels can run ``t``: 'cpu', 'cuda' or None (the reference, reported once)."""
    if t.device.type not in ("cpu", "cuda"):
        return None
    if _core is None:
        _warn_fallback("the compiled extension vqdsp._core is not built (pip install -e . builds it)")
        return None
    if t.device.type == "cpu":
        return "cpu"
    if _core.built_with_cuda():
        return "cuda"
    _warn_fallback("vqdsp._core was built without CUDA (no nvcc at build time)")
    return None


def _np(t: Tensor):  # numpy view sharing t's memory
    return t.detach().numpy()


def _stream(t: Tensor) -> tuple[int, int]:
    return t.device.index, torch.cuda.current_stream(t.device).cuda_stream


@torch.library.custom_op("vqdsp::nearest_code", mutates_args=())
def _nearest_code(z: Tensor, codebook: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Nearest code: quantized ``[N, D]``, indices ``[N]`` (int64), distances ``[N]``; a float output first."""
    _check_search(z, codebook, "z")
    _check_float32(z=z, codebook=codebook)
    z, codebook = z.contiguous(), codebook.contiguous()
    (n, d), k = z.shape, codebook.shape[0]
    indices, quantized, distances = z.new_empty(n, dtype=torch.int64), z.new_empty(n, d), z.new_empty(n)
    backend = _backend(z)
    if backend == "cpu":
        _core.nearest_code(_np(z), _np(codebook), _np(indices), _np(quantized), _np(distances), torch.get_num_threads())
    elif backend == "cuda":
        ws = z.new_empty(k)
        _core.nearest_code_cuda(*_stream(z), z.data_ptr(), codebook.data_ptr(), indices.data_ptr(), quantized.data_ptr(),
                                distances.data_ptr(), ws.data_ptr(), ws.numel(), n, k, d)
    else:
        ref = reference_nearest_code(z, codebook)
        return ref.quantized, ref.indices, ref.distances
    return quantized, indices, distances


@_nearest_code.register_fake
def _(z: Tensor, codebook: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    torch._check(z.dim() == 2 and codebook.dim() == 2 and z.shape[1] == codebook.shape[1], lambda: "z [N, D], codebook [K, D]")
    torch._check(z.dtype == torch.float32 and codebook.dtype == torch.float32, lambda: "nearest_code is float32")
    n, d = z.shape
    return z.new_empty(n, d), z.new_empty(n, dtype=torch.int64), z.new_empty(n)


def _nearest_code_setup(ctx, inputs, output) -> None:
    ctx.mark_non_differentiable(output[1])
    ctx.save_for_backward(inputs[0], output[1], output[0])
    ctx.codebook_shape = inputs[1].shape


def _nearest_code_backward(ctx, g_q: Tensor | None, _gi: Tensor | None, g_dist: Tensor | None):
    z, indices, quantized = ctx.saved_tensors
    pull = 2 * (z - quantized) * g_dist[:, None] if g_dist is not None else None  # d|z - q|^2 / dz
    g_z = g_cb = None
    if ctx.needs_input_grad[0]:
        g_z = g_q if g_q is not None else torch.zeros_like(z)  # straight through
        g_z = g_z + pull if pull is not None else g_z
    if ctx.needs_input_grad[1] and pull is not None:
        g_cb = z.new_zeros(ctx.codebook_shape).index_add(0, indices, -pull)
    return g_z, g_cb


_nearest_code.register_autograd(_nearest_code_backward, setup_context=_nearest_code_setup)


@torch.library.custom_op("vqdsp::se_excite", mutates_args=())
def _se_excite(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> tuple[Tensor, Tensor]:
    """SE excitation: returns the output and the channel means ``[B, C]`` (kept for the backward)."""
    _check_se(x, w1, b1, w2, b2, "x")
    _check_float32(x=x, w1=w1, b1=b1, w2=w2, b2=b2)
    x, w1, b1, w2, b2 = (t.contiguous() for t in (x, w1, b1, w2, b2))
    b, c, hw, hidden = x.shape[0], x.shape[1], x.shape[2] * x.shape[3], w1.shape[0]
    out, mean = torch.empty_like(x), x.new_empty(b, c)
    backend = _backend(x)
    if backend == "cpu":
        _core.se_forward(_np(x), _np(w1), _np(b1), _np(w2), _np(b2), _np(out), _np(mean), torch.get_num_threads())
    elif backend == "cuda":
        ws = x.new_empty(b * c)
        _core.se_forward_cuda(*_stream(x), *(t.data_ptr() for t in (x, w1, b1, w2, b2, out, mean, ws)), ws.numel(), b, c, hw, hidden)
    else:
        return reference_se_excite(x, w1, b1, w2, b2), x.mean(dim=(2, 3))
    return out, mean


@_se_excite.register_fake
def _(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> tuple[Tensor, Tensor]:
    torch._check(x.dim() == 4 and w1.dim() == 2 and w1.shape[1] == x.shape[1], lambda: "x [B, C, H, W], W1 [C/r, C]")
    return torch.empty_like(x, memory_format=torch.contiguous_format), x.new_empty(x.shape[0], x.shape[1])


@torch.library.custom_op("vqdsp::se_excite_backward", mutates_args=())
def _se_excite_backward(
    grad: Tensor, x: Tensor, mean: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of ``se_excite`` w.r.t. x, W1, b1, W2, b2 from the gradient of its output."""
    _check_se(x, w1, b1, w2, b2, "x")
    if grad.shape != x.shape or mean.shape != x.shape[:2]:
        raise ValueError(f"grad must be {tuple(x.shape)} and mean {tuple(x.shape[:2])}")
    _check_float32(grad=grad, x=x, mean=mean, w1=w1, b1=b1, w2=w2, b2=b2)
    grad, x, mean, w1, b1, w2, b2 = (t.contiguous() for t in (grad, x, mean, w1, b1, w2, b2))
    b, c, hw, hidden = x.shape[0], x.shape[1], x.shape[2] * x.shape[3], w1.shape[0]
    outs = (torch.empty_like(x), torch.empty_like(w1), torch.empty_like(b1), torch.empty_like(w2), torch.empty_like(b2))
    backend = _backend(x)
    if backend == "cpu":
        _core.se_backward(*(_np(t) for t in (grad, x, mean, w1, b1, w2, b2, *outs)), torch.get_num_threads())
    elif backend == "cuda":
        ws = x.new_empty(4 * b * c + 2 * b * hidden)
        ptrs = (t.data_ptr() for t in (grad, x, mean, w1, b1, w2, b2, *outs, ws))
        _core.se_backward_cuda(*_stream(x), *ptrs, ws.numel(), b, c, hw, hidden)
    else:
        return _reference_se_backward(grad, x, mean, w1, b1, w2, b2)
    return outs


def _reference_se_backward(grad: Tensor, x: Tensor, mean: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor):
    hidden = F.linear(mean, w1, b1)
    gate = torch.sigmoid(F.linear(hidden.relu(), w2, b2))
    d_gate = (grad * x).sum(dim=(2, 3)) * gate * (1 - gate)
    d_hidden = (d_gate @ w2).masked_fill(hidden <= 0, 0.0)  # relu's backward, NaN as autograd has it
    d_mean = d_hidden @ w1 / (x.shape[2] * x.shape[3])
    dx = grad * gate[:, :, None, None] + d_mean[:, :, None, None]
    return dx, d_hidden.t() @ mean, d_hidden.sum(0), d_gate.t() @ hidden.relu(), d_gate.sum(0)


@_se_excite_backward.register_fake
def _(grad: Tensor, x: Tensor, mean: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor):
    return tuple(torch.empty_like(t, memory_format=torch.contiguous_format) for t in (x, w1, b1, w2, b2))


def _se_setup(ctx, inputs, output) -> None:
    ctx.mark_non_differentiable(output[1])
    ctx.save_for_backward(*inputs, output[1])


def _se_backward(ctx, g_out: Tensor, _g_mean: Tensor | None):
    x, w1, b1, w2, b2, mean = ctx.saved_tensors
    grads = torch.ops.vqdsp.se_excite_backward(g_out, x, mean, w1, b1, w2, b2)
    return tuple(g if need else None for g, need in zip(grads, ctx.needs_input_grad, strict=True))


_se_excite.register_autograd(_se_backward, setup_context=_se_setup)


@torch.library.custom_op("vqdsp::se_nearest_code", mutates_args=())
def _se_nearest_code(
    y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, codebook: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Fused SE + nearest code: quantized ``[B, C, H, W]``, indices and distances ``[B*H*W]``, means ``[B, C]``."""
    _check_se(y, w1, b1, w2, b2, "y")
    _check_codebook(codebook, y.shape[1], y.device, "y")
    _check_float32(y=y, w1=w1, b1=b1, w2=w2, b2=b2, codebook=codebook)
    y, w1, b1, w2, b2, codebook = (t.contiguous() for t in (y, w1, b1, w2, b2, codebook))
    b, c, hw, hidden, k = y.shape[0], y.shape[1], y.shape[2] * y.shape[3], w1.shape[0], codebook.shape[0]
    quantized, mean = torch.empty_like(y), y.new_empty(b, c)
    indices, distances = y.new_empty(b * hw, dtype=torch.int64), y.new_empty(b * hw)
    backend = _backend(y)
    if backend == "cpu":
        outs = (quantized, indices, distances, mean)
        _core.se_nearest_code(*(_np(t) for t in (y, w1, b1, w2, b2, codebook, *outs)), torch.get_num_threads())
    elif backend == "cuda":
        ws = y.new_empty(k + b * c)
        ptrs = (t.data_ptr() for t in (y, w1, b1, w2, b2, codebook, quantized, indices, distances, mean, ws))
        _core.se_nearest_code_cuda(*_stream(y), *ptrs, ws.numel(), b, c, hw, k, hidden)
    else:
        ref = reference_se_nearest_code(y, w1, b1, w2, b2, codebook)
        return ref.quantized.contiguous(), ref.indices.flatten(), ref.distances.flatten(), y.mean(dim=(2, 3))
    return quantized, indices, distances, mean


@_se_nearest_code.register_fake
def _(y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, codebook: Tensor):
    torch._check(y.dim() == 4 and codebook.dim() == 2 and codebook.shape[1] == y.shape[1], lambda: "y [B, C, H, W], codebook [K, C]")
    n = y.shape[0] * y.shape[2] * y.shape[3]
    return (torch.empty_like(y, memory_format=torch.contiguous_format), y.new_empty(n, dtype=torch.int64),
            y.new_empty(n), y.new_empty(y.shape[0], y.shape[1]))


def _se_nearest_code_setup(ctx, inputs, output) -> None:
    ctx.mark_non_differentiable(output[1], output[3])
    ctx.save_for_backward(*inputs, output[1], output[3])


def _se_nearest_code_backward(ctx, g_q, _gi, g_dist, _gm):
    y, w1, b1, w2, b2, codebook, indices, mean = ctx.saved_tensors
    b, c, h, w = y.shape
    z = y * _gate(mean, w1, b1, w2, b2)[:, :, None, None]
    g_z = g_q if g_q is not None else torch.zeros_like(y)  # straight through
    pull = None
    if g_dist is not None:
        q = F.embedding(indices, codebook).view(b, h, w, c).permute(0, 3, 1, 2)
        pull = 2 * (z - q) * g_dist.view(b, 1, h, w)
        g_z = g_z + pull
    grads = torch.ops.vqdsp.se_excite_backward(g_z.contiguous(), y, mean, w1, b1, w2, b2)
    g_cb = None
    if ctx.needs_input_grad[5] and pull is not None:
        g_cb = torch.zeros_like(codebook).index_add(0, indices, -pull.permute(0, 2, 3, 1).reshape(-1, c))
    return (*(g if need else None for g, need in zip(grads, ctx.needs_input_grad[:5], strict=True)), g_cb)


_se_nearest_code.register_autograd(_se_nearest_code_backward, setup_context=_se_nearest_code_setup)
