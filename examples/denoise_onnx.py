"""Denoise a recording with an exported vqdsp model: onnxruntime, numpy, scipy and soundfile alone (no vqdsp, no torch).

    vqdsp export-onnx model.onnx                      # once, where vqdsp is installed (writes model.json too)
    python examples/denoise_onnx.py model.onnx INPUT.wav OUTPUT.wav [--attenuation-limit-db 30]

The graph maps log-magnitude segments to log-gains; everything around it is here, read from the
JSON beside the graph: cut the audio into overlapping segments, take each one's STFT and its
log-magnitude, run the graph, multiply the complex STFT by the gain, invert it, and overlap-add
the segments with a cross-fade. At the model's rate this is what ``vqdsp denoise`` does (to 1e-5:
tests/test_onnx_export.py). Audio at another rate is resampled to the model's and back, which
loses the band above the model's Nyquist (4 kHz for ``default``); ``vqdsp denoise`` keeps it.
A port to C++, JS or a phone follows these functions step by step.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnxruntime as ort
import scipy.signal
import soundfile as sf

FORMAT = "vqdsp-onnx/1"  # the JSON this script reads (vqdsp.model.export.FORMAT)


def load(onnx_path: str | Path, threads: int = 1) -> tuple[ort.InferenceSession, dict]:
    """The graph as an onnxruntime session, and the JSON of its transform (``model.onnx -> model.json``)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    spec = json.loads(Path(onnx_path).with_suffix(".json").read_text())
    if spec.get("format") != FORMAT:
        raise ValueError(f"{Path(onnx_path).with_suffix('.json')} is not a {FORMAT} transform; export the model again with `vqdsp export-onnx`")
    return session, spec


def crossfade_ramp(overlap: int) -> np.ndarray:
    """Fade-in weights over an overlap: 0, then sin^2 over its middle half, then 1."""
    ramp = np.zeros(overlap)
    if overlap == 0:
        return ramp
    start, width = overlap // 4, max(1, overlap - 2 * (overlap // 4))
    ramp[start : start + width] = np.sin(0.5 * np.pi * (np.arange(width) + 0.5) / width) ** 2
    ramp[start + width :] = 1.0
    return ramp


def denoise_segments(session: ort.InferenceSession, spec: dict, segments: np.ndarray, attenuation_limit_db: float | None) -> np.ndarray:
    """Denoise segments ``[N, samples]`` at the model's rate, each on its own."""
    stft, floor = spec["stft"], np.float32(spec["log_floor"])
    settings = {"fs": stft["sample_rate"], "window": stft["window"], "nperseg": stft["nperseg"], "noverlap": stft["noverlap"],
                "nfft": stft.get("nfft", stft["nperseg"])}
    _, _, spectrum = scipy.signal.stft(segments, boundary="zeros", padded=True, scaling="spectrum", **settings)  # [N, F', T]
    bins = stft["bins"]  # what the model reads: the first bins of the (padded) FFT
    log_magnitude = np.log(np.abs(spectrum[:, :bins]) + floor).astype(np.float32)
    log_gain = session.run([spec["output"]["name"]], {spec["input"]["name"]: log_magnitude})[0]
    if attenuation_limit_db is not None:
        log_gain = np.maximum(log_gain, -attenuation_limit_db * math.log(10) / 20)
    extra = spectrum.shape[1] - bins
    log_gain = np.concatenate([log_gain, np.repeat(log_gain[:, -1:], extra, axis=1)], axis=1)  # the last bin's gain above
    _, out = scipy.signal.istft(spectrum * np.exp(log_gain), boundary=True, scaling="spectrum", **settings)
    length = segments.shape[-1]
    return np.pad(out, ((0, 0), (0, max(0, length - out.shape[-1]))))[:, :length].astype(np.float32)


def denoise_channel(session: ort.InferenceSession, spec: dict, audio: np.ndarray, attenuation_limit_db: float | None = None,
                    batch: int = 4) -> np.ndarray:
    """Denoise mono float audio ``[samples]`` at the model's rate: segments, the graph, overlap-add."""
    size, overlap = spec["segments"]["samples"], spec["segments"]["overlap"]
    hop, n = size - overlap, len(audio)
    padded = np.pad(audio, (0, size), mode="symmetric").astype(np.float32)  # the end mirrored: the last segments hear its noise
    count = 1 + n // hop
    fade = crossfade_ramp(overlap)
    first = np.ones(size, np.float32)
    if overlap:
        first[-overlap:] = 1.0 - fade
    weight = first.copy()
    weight[:overlap] = fade
    out = np.zeros((count - 1) * hop + size, np.float32)
    for k in range(0, count, batch):
        starts = range(k * hop, min(count, k + batch) * hop, hop)
        segments = np.stack([padded[s : s + size] for s in starts])
        for s, segment in zip(starts, denoise_segments(session, spec, segments, attenuation_limit_db), strict=True):
            out[s : s + size] += segment * (weight if s else first)
    return out[:n]


def denoise(session: ort.InferenceSession, spec: dict, audio: np.ndarray, sample_rate: int, attenuation_limit_db: float | None = None) -> np.ndarray:
    """Denoise float audio ``[samples]`` or ``[samples, channels]`` (soundfile's layout), each channel on its own."""
    rate = spec["stft"]["sample_rate"]
    planar = np.atleast_2d(audio.T).astype(np.float32)
    ratio = Fraction(rate, sample_rate).limit_denominator(1000)
    if ratio != 1:
        planar = scipy.signal.resample_poly(planar, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)
    out = np.stack([denoise_channel(session, spec, channel, attenuation_limit_db) for channel in planar])
    if ratio != 1:
        out = scipy.signal.resample_poly(out, ratio.denominator, ratio.numerator, axis=-1)[:, : audio.shape[0]].astype(np.float32)
    return out[0] if audio.ndim == 1 else out.T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Denoise a file with a vqdsp model exported by `vqdsp export-onnx`.")
    parser.add_argument("model", help="the .onnx graph (its .json beside it)")
    parser.add_argument("input", help="audio file to clean")
    parser.add_argument("output", help="file to write (same rate, channels and sample format)")
    parser.add_argument("--attenuation-limit-db", type=float, help="deepest suppression, in dB (default: none)")
    args = parser.parse_args(argv)
    session, spec = load(args.model)
    audio, rate = sf.read(args.input, dtype="float32")
    out = denoise(session, spec, audio, rate, args.attenuation_limit_db)
    sf.write(args.output, out, rate, subtype=sf.info(args.input).subtype)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
