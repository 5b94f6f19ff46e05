from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from utils import speech_like, wideband_speech_like
from vqdsp import VQDenoise
from vqdsp.model.checkpoint import save_model
from vqdsp.audio.framing import flush_padding
from vqdsp.training.noise import mix_at_snr, rms, white_noise


@pytest.fixture(scope="module")
def effect() -> VQDenoise:
    return VQDenoise()


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("shape", ["mono", "channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_shape_dtype_and_length(effect: VQDenoise, sample_rate: int, shape: str, dtype: type) -> None:
    n = int(sample_rate * 1.3)
    mono = speech_like(1.3, sample_rate)[:n]
    audio = {"mono": mono, "channels_first": np.stack([mono, -mono]), "channels_last": np.stack([mono, mono * 0.5], 1)}[shape]
    out = effect(audio.astype(dtype), sample_rate)
    assert out.shape == audio.shape and out.dtype == dtype


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_the_band_above_the_model_is_kept(effect: VQDenoise, sample_rate: int) -> None:
    """Clean wide-band speech keeps its energy above 4 kHz within 1 dB (no telephone audio)."""
    audio = wideband_speech_like(3.0, sample_rate)

    def high_band_db(x: np.ndarray) -> float:
        freqs, power = scipy.signal.welch(x, sample_rate, nperseg=2048)
        return 10 * np.log10(power[freqs > 4000].sum())

    assert abs(high_band_db(effect(audio, sample_rate)) - high_band_db(audio)) < 1.0


def test_reduces_white_noise(effect: VQDenoise) -> None:
    clean = speech_like(3.0, 16000)
    noisy = mix_at_snr(clean, white_noise(len(clean), np.random.default_rng(0)), 5.0)
    out = effect(noisy, 16000)
    assert rms(out - clean) < rms(noisy - clean)


@pytest.mark.parametrize(("sample_rate", "buffer_size"), [(8000, 1), (8000, 4096), (16000, 1000), (44100, 8192), (48000, 12345)])
def test_streaming_equals_one_shot_after_the_latency(sample_rate: int, buffer_size: int) -> None:
    effect = VQDenoise()
    audio = np.stack([speech_like(2.2, sample_rate), speech_like(2.2, sample_rate, seed=1)])
    whole = effect(audio, sample_rate)
    effect.reset()
    latency = effect.latency_at(sample_rate)
    padded = np.concatenate([audio, flush_padding(audio, latency)], axis=1)
    chunk = 2 * buffer_size + 7 if buffer_size > 1 else 2001
    parts = [effect(padded[:, i : i + chunk], sample_rate, buffer_size=buffer_size, reset=False) for i in range(0, padded.shape[1], chunk)]
    streamed = np.concatenate(parts, axis=1)
    assert effect.latency_samples == sample_rate  # one model segment (1 s)
    assert np.all(streamed[:, :latency] == 0)
    assert np.allclose(streamed[:, latency : latency + audio.shape[1]], whole, atol=1e-5)


def test_latency_is_reported_at_the_stream_rate() -> None:
    effect = VQDenoise()
    assert effect.latency_samples == 8000
    effect(np.zeros(100, np.float32), 48000, reset=False)
    assert effect.latency_samples == 48000


def test_attenuation_limit_keeps_a_noise_floor() -> None:
    noise = white_noise(16000, np.random.default_rng(2)) * 0.05
    deep = VQDenoise()(noise, 8000)
    limited = VQDenoise(attenuation_limit_db=6.0)(noise, 8000)
    assert rms(limited) >= rms(noise) * 10 ** (-6.0 / 20) * 0.95
    assert rms(limited) > rms(deep)


def test_mix_zero_is_the_dry_signal() -> None:
    audio = speech_like(1.5) + 0.05 * white_noise(12000, np.random.default_rng(3))
    assert np.allclose(VQDenoise(mix=0.0)(audio, 8000), audio, atol=1e-4)
    half = VQDenoise(mix=0.5)(audio, 8000)
    wet = VQDenoise()(audio, 8000)
    assert np.allclose(half, 0.5 * audio + 0.5 * wet, atol=1e-4)


def test_silence_stays_silent_and_loud_input_is_not_clipped(effect: VQDenoise) -> None:
    assert np.all(effect(np.zeros(9000, np.float32), 8000) == 0)
    loud = 5.0 * speech_like(1.0)  # peaks at 1.5
    assert np.abs(effect(loud, 8000)).max() > 1.0


def test_dc_offset_is_defined(effect: VQDenoise) -> None:
    out = effect(np.full(8000, 0.5, np.float32), 8000)
    assert np.all(np.isfinite(out)) and np.abs(out).max() <= 0.5 + 1e-3


def test_empty_input_gives_empty_output(effect: VQDenoise) -> None:
    assert effect(np.zeros((2, 0), np.float32), 8000).shape == (2, 0)


@pytest.mark.parametrize(
    ("audio", "error", "match"),
    [
        (np.array([0.1, np.nan] * 100, np.float32), ValueError, "NaN"),
        (np.array([0.1, np.inf] * 100, np.float32), ValueError, "Inf"),
        (np.zeros(1000, np.int16), TypeError, "int16"),
        (np.zeros((2, 3, 100), np.float32), ValueError, "dimensions"),
        (np.zeros((4, 4), np.float32), ValueError, "square"),
    ],
)
def test_bad_input_is_named(effect: VQDenoise, audio: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        effect(audio, 8000)


def test_parameters_are_validated_attributes() -> None:
    effect = VQDenoise(attenuation_limit_db=20, mix=0.8)
    assert effect.parameters["attenuation_limit_db"] == 20 and effect.mix == 0.8
    with pytest.raises(ValueError, match="mix"):
        effect.mix = 1.5
    with pytest.raises(ValueError, match="attenuation_limit_db"):
        effect.attenuation_limit_db = -3
    with pytest.raises(TypeError):
        effect.parameters["mix"] = 0.1  # read-only: set the attribute instead
    with pytest.raises(ValueError, match="CUDA"):
        VQDenoise(device="cuda") if not __import__("torch").cuda.is_available() else (_ for _ in ()).throw(ValueError("CUDA"))
    assert "mix=0.8" in repr(effect) and "attenuation_limit_db=20.0" in repr(effect)
    assert effect.is_effect and not effect.is_instrument


def test_reset_keeps_parameters() -> None:
    effect = VQDenoise(attenuation_limit_db=12, mix=0.7)
    effect(np.zeros(100, np.float32), 8000, reset=False)
    effect.reset()
    assert (effect.attenuation_limit_db, effect.mix) == (12, 0.7)


def test_another_checkpoint(tmp_path) -> None:
    from utils import identity_model

    path = save_model(identity_model(), tmp_path / "identity.safetensors")
    effect = VQDenoise(model=path)
    audio = speech_like(1.0)
    assert np.allclose(effect(audio, 8000), audio, atol=1e-4)
    assert effect.model == str(path)
    with pytest.raises(FileNotFoundError):
        VQDenoise(model=tmp_path / "missing.safetensors")


def test_changing_rate_mid_stream_is_an_error() -> None:
    effect = VQDenoise()
    effect(np.zeros(100, np.float32), 8000, reset=False)
    with pytest.raises(ValueError, match="mid-stream"):
        effect(np.zeros(100, np.float32), 16000, reset=False)
    assert math.isinf(effect.attenuation_limit_db)
