"""What runs a model's forward at inference: the names, checked (torch-free, for the command line)."""

from __future__ import annotations

from typing import Any

BACKENDS = ("torch", "onnxruntime")
"""``torch``: eager torch with the fused C++ / CUDA kernels; ``onnxruntime``: the exported graph on the CPU
(:mod:`vqdsp.model.onnx_runtime`)."""


def check_backend(value: Any) -> str:
    """``value`` if it names a backend, else a ValueError that lists them."""
    if not isinstance(value, str) or value not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {value!r}")
    return value
