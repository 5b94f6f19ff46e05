"""The onnxruntime backend: the torch backend's output, through every parameter of the effect."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.effect import VQDenoise
from vqdsp.cli import EXAMPLE, main
from vqdsp.model.backends import BACKENDS
from vqdsp.model.checkpoint import load_model
from vqdsp.model.onnx_runtime import OnnxRuntimeGains

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'vqdsp[onnx]')")
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'vqdsp[onnx]')")

FULLBAND_SPEECH = Path(__file__).parent / "fixtures" / "fullband_speech.flac"
GAIN_TOLERANCE = 1e-4  # natural-log gain (measured about 1e-5)
SAMPLE_TOLERANCE = 2e-4  # float samples of audio peaking near 1: a gain 1e-4 off moves a sample by 1e-4 of itself


def noisy_example() -> tuple[np.ndarray, int]:
    audio, rate = sf.read(EXAMPLE, dtype="float32")
    return audio, rate


def noisy_fullband_stereo() -> tuple[np.ndarray, int]:
    """The 48 kHz fixture as two channels with different white noise (the wideband model and its stage run)."""
    audio, rate = sf.read(FULLBAND_SPEECH, dtype="float32")
    audio = audio if audio.ndim == 1 else audio.mean(axis=1)
    rng = np.random.default_rng(1)
    level = 0.2 * float(np.sqrt(np.mean(audio**2)))
    return np.stack([audio + level * rng.standard_normal(len(audio)).astype(np.float32) for _ in range(2)]), rate


def test_the_gain_is_the_torch_models_on_real_speech() -> None:
    audio, _ = noisy_example()
    torch_backend, onnx_backend = Denoiser(load_model("default")), Denoiser(load_model("default"), backend="onnxruntime")
    segments = audio[: len(audio) // 8000 * 8000].reshape(-1, 8000)
    from vqdsp.audio.stft import log_magnitude, stft

    cfg = torch_backend.model_stft
    log_mag = log_magnitude(stft(segments, cfg), cfg)
    gap = np.abs(torch_backend.log_gains(log_mag) - onnx_backend.log_gains(log_mag)).max()
    assert 0 < gap < GAIN_TOLERANCE  # not the same code path, and close to it


@pytest.mark.parametrize("threads", [1, 2])
def test_the_effect_gives_the_torch_output_at_8_and_48_khz(threads: int) -> None:
    for audio, rate in (noisy_example(), noisy_fullband_stereo()):
        want = VQDenoise(threads=threads)(audio, rate)
        got = VQDenoise(threads=threads, backend="onnxruntime")(audio, rate)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=SAMPLE_TOLERANCE)


def test_streaming_and_linked_channels_run_on_onnxruntime_too() -> None:
    audio, rate = noisy_fullband_stereo()
    effect = VQDenoise(backend="onnxruntime", channel_mode="linked", attenuation_limit_db=20.0)
    want = VQDenoise(channel_mode="linked", attenuation_limit_db=20.0)(audio, rate)
    np.testing.assert_allclose(effect(audio, rate), want, atol=SAMPLE_TOLERANCE)
    effect.reset()
    chunks = [effect(audio[:, s : s + 7000], rate, reset=False) for s in range(0, audio.shape[1], 7000)]
    latency = effect.latency_at(rate)
    streamed = np.concatenate(chunks, axis=1)[:, latency:]
    np.testing.assert_allclose(streamed, want[:, : streamed.shape[1]], atol=SAMPLE_TOLERANCE)


def test_the_backend_shows_in_repr_and_describe_and_can_be_changed() -> None:
    audio, rate = noisy_example()
    effect = VQDenoise(model="default")
    assert effect.backend == "torch"
    torch_out = effect(audio, rate)
    effect.backend = "onnxruntime"
    assert "backend='onnxruntime'" in repr(effect)
    assert "on onnxruntime" in effect.describe_at(rate)
    assert effect.parameters["backend"] == "onnxruntime"
    assert isinstance(effect.denoiser_at(rate)._onnx, OnnxRuntimeGains)
    np.testing.assert_allclose(effect(audio, rate), torch_out, atol=SAMPLE_TOLERANCE)
    effect.backend = "torch"
    assert effect.denoiser_at(rate)._onnx is None
    np.testing.assert_array_equal(effect(audio, rate), torch_out)


def test_an_onnxruntime_effect_pickles_and_copies() -> None:
    audio, rate = noisy_example()
    effect = VQDenoise(backend="onnxruntime")
    want = effect(audio, rate)
    for other in (pickle.loads(pickle.dumps(effect)), copy.deepcopy(effect)):
        assert other.backend == "onnxruntime"
        np.testing.assert_array_equal(other(audio, rate), want)


def test_bad_backends_are_named() -> None:
    with pytest.raises(ValueError, match="backend must be one of 'torch', 'onnxruntime', got 'ort'"):
        VQDenoise(backend="ort")
    effect = VQDenoise()
    with pytest.raises(ValueError, match="backend must be one of"):
        effect.backend = None  # type: ignore[assignment]
    assert effect.backend == "torch"  # a refused value changes nothing
    assert BACKENDS == ("torch", "onnxruntime")


def test_a_model_onnxruntime_cannot_run_is_named() -> None:
    class Halve(torch.nn.Module):
        config = load_model("default").config

        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, x: torch.Tensor):
            raise AssertionError("never run")

    with pytest.raises(TypeError, match="onnxruntime backend runs vqdsp's SEUNet models, got a Halve; use backend='torch'"):
        VQDenoise(model=Halve(), backend="onnxruntime")
    effect = VQDenoise(model=Halve())
    with pytest.raises(TypeError, match="SEUNet models"):
        effect.backend = "onnxruntime"
    assert effect.backend == "torch"  # refused: the effect is as it was
    assert isinstance(effect.model, Halve)


def test_compile_is_refused_on_onnxruntime() -> None:
    with pytest.raises(ValueError, match="compile\\(\\) is for the torch backend"):
        Denoiser(load_model("default"), backend="onnxruntime").compile()


def test_the_denoise_command_takes_the_backend(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "clean.wav"
    assert main(["denoise", str(EXAMPLE), "-o", str(out), "--backend", "onnxruntime", "-v"]) == 0
    assert "on onnxruntime" in capsys.readouterr().out
    reference = tmp_path / "torch.wav"
    assert main(["denoise", str(EXAMPLE), "-o", str(reference)]) == 0
    a, b = sf.read(out, dtype="float32")[0], sf.read(reference, dtype="float32")[0]
    assert np.abs(a - b).max() <= 2 / 32768  # 16-bit files: at most a step or two apart
