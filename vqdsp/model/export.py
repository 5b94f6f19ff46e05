"""ONNX export of the gain network: log-magnitude segments in, log-gain out, in standard ONNX ops.

What a C++ / JUCE plugin, a mobile app or a browser runs with onnxruntime. The graph is the
model alone, as GTCRN's export is: the STFT, the log, cutting audio into segments, applying the
gain, the inverse STFT and the overlap-add stay outside it, so any host can do them with its own
FFT. A JSON beside the graph says which transform the model expects (:func:`transform_spec`),
so that a host never has to read vqdsp's code to feed it.

The bottleneck's fused SE + nearest-code kernel is a custom op no runtime knows; under
``torch.onnx.export`` every op of :mod:`vqdsp.model.ops` traces its plain-PyTorch reference
instead (:func:`~vqdsp.model.ops.exporting`), so the search becomes MatMul, ArgMin and Gather.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vqdsp import __version__
from vqdsp.atomic import atomic_write
from vqdsp.audio.stft import stft
from vqdsp.audio.transforms import model_fft_length
from vqdsp.extras import require
from vqdsp.model.checkpoint import SHIPPED_MODELS, load_model, resolve_model
from vqdsp.model.config import StftConfig
from vqdsp.model.unet import SEUNet

FORMAT = "vqdsp-onnx/1"
OPSET = 17  # onnxruntime >= 1.11, and its mobile and web builds
INPUT_NAME, OUTPUT_NAME = "log_magnitude", "log_gain"


class GainNetwork(nn.Module):
    """The part of an :class:`SEUNet` that is exported: ``log_magnitude [B, F, T] -> log_gain [B, F, T]``.

    Args:
        model: the model; it runs as its :meth:`~SEUNet.for_inference` copy (batch norm folded).
    """

    def __init__(self, model: SEUNet) -> None:
        super().__init__()
        self.model = model.for_inference()

    def forward(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        return self.model(log_magnitude).log_gain


@dataclass
class Exported:
    """What :func:`export_onnx` wrote.

    Args:
        onnx_path: the graph.
        spec_path: the JSON of the transform it expects (:func:`transform_spec`), beside it.
        spec: that JSON's content.
    """

    onnx_path: Path
    spec_path: Path
    spec: dict[str, Any]


def spec_path(onnx_path: str | os.PathLike) -> Path:
    """The JSON beside an exported graph: ``OUT.onnx -> OUT.json``."""
    return Path(onnx_path).with_suffix(".json")


def segment_shape(cfg: StftConfig) -> tuple[int, int]:
    """``(F, T)``: bins and frames of one segment's spectrogram, the graph's input shape after the batch."""
    return stft(np.zeros(cfg.segment_samples, np.float32), cfg).shape


def model_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a weights file: which weights a graph was exported from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def transform_spec(model: SEUNet, name: str, sha256: str) -> dict[str, Any]:
    """The JSON written beside the graph: the transform, the segments and how the gain is applied."""
    cfg = model.config.stft
    bins, frames = segment_shape(cfg)
    shape = ["batch", bins, frames]
    floor = model.config.max_attenuation_db * math.log(10) / 20
    return {
        "format": FORMAT,
        "model": {"name": name, "sha256": sha256, "vqdsp_version": __version__},
        "opset": OPSET,
        "input": {"name": INPUT_NAME, "shape": shape, "dtype": "float32",
                  "meaning": "log(|STFT| + log_floor) of one segment per batch entry, [batch, bins, frames]"},
        "output": {"name": OUTPUT_NAME, "shape": shape, "dtype": "float32",
                   "meaning": f"natural-log gain per bin, in [-max_attenuation_db * ln(10) / 20, 0] = [{-floor:.4f}, 0]"},
        "stft": {
            "sample_rate": cfg.sample_rate, "nperseg": cfg.nperseg, "noverlap": cfg.noverlap, "hop": cfg.hop, "window": cfg.window,
            "window_symmetry": "periodic (scipy.signal.get_window)", "bins": bins, "frames": frames, "nfft": model_fft_length(cfg),
            "definition": "scipy.signal.stft(x, window, nperseg, noverlap, nfft, boundary='zeros', padded=True, scaling='spectrum'): "
                          "nperseg // 2 zeros on both sides, zero-padded to whole frames, rfft of each frame times window / sum(window), "
                          "zero-padded to nfft; the model reads the first `bins` bins",
            "nfft_note": "vqdsp pads an odd window by one zero for speed (an even real FFT is 5x faster than 519 = 3 x 173); "
                         "nfft = nperseg (the training grid) works too, the gain within the evaluation's noise of it",
        },
        "segments": {
            "samples": cfg.segment_samples, "overlap": cfg.segment_overlap, "hop": cfg.segment_samples - cfg.segment_overlap,
            "crossfade": "segment k starts at k * hop and, after the first, fades in over its first overlap samples with "
                         "w[i] = 0 for i < s, sin^2(pi / 2 * (i - s + 0.5) / n) for s <= i < s + n, 1 after, where s = overlap // 4 "
                         "and n = overlap - 2 * s; the segment before fades out with 1 - w over the same samples",
            "end": "the input is followed by its mirror image (numpy 'symmetric' padding) of one segment, so the last segments "
                   "see the recording's own noise; 1 + len // hop segments are processed and the output is cropped to len",
        },
        "log_floor": cfg.log_floor,
        "max_attenuation_db": model.config.max_attenuation_db,
        "gain": [
            "log_gain = max(log_gain, -attenuation_limit_db * ln(10) / 20) for a limit (none by default)",
            "spectrum *= exp(log_gain), on the complex STFT the input was computed from (phase kept); "
            "bins past `bins` (nfft // 2 + 1 > bins) take the last bin's gain",
            "segment = istft(spectrum) (scipy.signal.istft with the same settings), cropped to segment samples",
            "output = overlap-add of the segments with the cross-fade, cropped to the input's length",
            "a wet/dry mix, if any: mix * output + (1 - mix) * input",
        ],
    }


def resolve_existing(model: str | os.PathLike | None) -> Path:
    """The weights file of ``model`` (a shipped name, a run folder or a file), or a FileNotFoundError that says what to give."""
    path = resolve_model(model)
    if not path.is_file():
        names = ", ".join(SHIPPED_MODELS)
        raise FileNotFoundError(f"no model {str(model)!r} (no file {path}): give a shipped model ({names}) or a .safetensors file")
    return path


def export_onnx(out: str | os.PathLike, model: str | os.PathLike | None = None, overwrite: bool = False) -> Exported:
    """Write the gain network of ``model`` to ``out`` (.onnx) and its transform to the .json beside it.

    Both files are written atomically; neither is replaced unless ``overwrite``.

    Args:
        out: path of the graph; it must end in ``.onnx``.
        model: a shipped model's name, a run folder or a ``.safetensors`` file (None: the default model).
        overwrite: replace files that exist.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"{out} does not end in .onnx; give OUT.onnx (the JSON goes beside it as OUT.json)")
    json_path = spec_path(out)
    if out.with_suffix(".safetensors").exists():
        raise ValueError(f"{json_path} is the config of the model {out.with_suffix('.safetensors')}; give OUT.onnx another name")
    for path in (out, json_path):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; add --force to replace it")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"no folder {out.parent} to write {out.name} into; create it first")
    require("onnx", "onnx")  # torch.onnx.export needs it to write the file
    weights = resolve_existing(model)
    net = load_model(weights)
    name = "default" if model is None else Path(model).name  # a shipped model's name, or the file's or run folder's
    spec = transform_spec(net, name, model_sha256(weights))
    atomic_write(out, lambda tmp: _export(GainNetwork(net), net.config.stft, tmp))
    atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(spec, indent=2) + "\n"))
    return Exported(out, json_path, spec)


def _export(net: GainNetwork, cfg: StftConfig, path: Path) -> None:
    """``torch.onnx.export`` of ``net`` at one segment's shape, the batch axis dynamic, checked by onnx."""
    export_graph(net, cfg, path)
    import onnx

    onnx.checker.check_model(str(path))


def export_graph(net: GainNetwork, cfg: StftConfig, f: str | os.PathLike | io.BytesIO) -> None:
    """``torch.onnx.export`` of ``net`` into a file or buffer at one segment's shape, the batch axis dynamic."""
    example = torch.zeros((1, *segment_shape(cfg)))
    with torch.no_grad(), warnings.catch_warnings():
        # The shape checks of the forward see fixed sizes (only the batch varies); the TorchScript exporter
        # needs no onnxscript and is deprecated in favour of the dynamo one, which would.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net, (example,), f if isinstance(f, io.BytesIO) else str(f),  # type: ignore[arg-type]  # it writes buffers too
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=OPSET,
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, dynamo=False,
        )
