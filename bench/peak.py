"""The CPU's fp32 peak, for the model forward's share of it: read from /proc/cpuinfo, and measured with a GEMM.

The nominal peak per core is ``2 FMA units x lanes x 2 FLOP x clock``, with 16 fp32 lanes where the
flags show AVX-512 and 8 with AVX2 (``avx512f`` / ``avx2`` in /proc/cpuinfo, read at run time), and
the clock from ``cpu MHz`` (a virtual machine reports its nominal clock; turbo is not seen). Some cores
(AMD Zen 4) run AVX-512 as two 256-bit halves, so the nominal AVX-512 figure there is twice what the
hardware can do; the practical peak, a large single-thread fp32 GEMM (``torch.mm``, oneDNN/MKL), says
what is reachable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

GEMM = 1024  # square fp32 GEMM size for the practical peak


@dataclass(frozen=True)
class Peak:
    """fp32 peak of one core. ``isa``: the widest FMA the flags show; ``lanes``: fp32 per vector."""

    isa: str
    lanes: int
    clock_ghz: float

    @property
    def nominal_gflops(self) -> float:
        """2 FMA units x lanes x 2 FLOP x clock."""
        return 2 * self.lanes * 2 * self.clock_ghz


@lru_cache(maxsize=1)
def cpu_peak() -> Peak:
    """The nominal fp32 FMA peak of one core of this CPU, from /proc/cpuinfo (AVX2 assumed where it cannot be read)."""
    flags: set[str] = set()
    mhz = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags" and not flags:
                flags = set(value.split())
            elif key.strip() == "cpu MHz" and not mhz:
                mhz = float(value)
    except (OSError, ValueError):
        pass
    if "avx512f" in flags:
        return Peak("AVX-512", 16, mhz / 1000)
    return Peak("AVX2" if "avx2" in flags or not flags else "SSE", 8 if "avx2" in flags or not flags else 4, mhz / 1000)


def gemm_gflops(size: int = GEMM, rounds: int = 5) -> float:
    """Best GFLOP/s of a ``size`` x ``size`` fp32 GEMM on the current torch threads (the practical peak)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def conv_macs(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of the convolutions and linear layers of one ``model(x)`` (counted by hooks)."""
    total = 0

    def count(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kernel = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
            total += out.numel() * kernel
        elif isinstance(module, torch.nn.Linear):
            total += out.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return total
