from __future__ import annotations

import numpy as np
import pytest

from vqdsp.audio.stft import check_audio, from_log_magnitude, istft, log_magnitude, overlap_add, resample, stft
from vqdsp.model.config import StftConfig

from utils import speech_like


def test_one_second_is_260_by_260() -> None:
    assert stft(np.zeros(8000, np.float32)).shape == (260, 260)


@pytest.mark.parametrize("length", [1, 31, 519, 4000, 8000, 8001])
def test_stft_round_trip(length: int) -> None:
    audio = speech_like(length / 8000, seed=length)
    assert np.max(np.abs(istft(stft(audio), length) - audio)) < 1e-5


def test_log_magnitude_keeps_the_phase_and_inverts() -> None:
    spec = stft(speech_like(1.0))
    back = from_log_magnitude(log_magnitude(spec), spec)
    assert np.allclose(back, spec, atol=1e-5)


@pytest.mark.parametrize(
    ("audio", "error", "match"),
    [
        (np.zeros(0, np.float32), ValueError, "empty"),
        (np.array([0.0, np.nan], np.float32), ValueError, "NaN"),
        (np.array([0.0, np.inf], np.float32), ValueError, "NaN or Inf"),
        (np.zeros(10, np.int16), TypeError, "float"),
        (np.array([0.0, 1e300]), ValueError, "float32's range"),
    ],
)
def test_bad_audio_is_named(audio: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_audio(audio)


def test_config_rejects_impossible_overlap() -> None:
    with pytest.raises(ValueError, match="noverlap"):
        StftConfig(nperseg=100, noverlap=100)


@pytest.mark.parametrize(("nperseg", "hop"), [(519, 31), (1038, 62), (2861, 171), (3114, 186)])
@pytest.mark.parametrize("length", [1, 2000, 8001])
def test_batched_transform_is_scipys(nperseg: int, hop: int, length: int) -> None:
    """The batched float32 STFT/ISTFT give what scipy.signal.stft/istft give."""
    import scipy.signal

    cfg = StftConfig(nperseg=nperseg, noverlap=nperseg - hop)
    audio = np.random.default_rng(length).standard_normal((2, 3, length)).astype(np.float32)
    padded = np.pad(audio, [(0, 0), (0, 0), (0, max(0, nperseg - length))])
    _, _, expected = scipy.signal.stft(padded, window="hann", nperseg=nperseg, noverlap=nperseg - hop)
    spec = stft(audio, cfg)
    assert spec.dtype == np.complex64
    assert spec.shape == expected.shape
    assert np.max(np.abs(spec - expected)) < 1e-6
    _, back = scipy.signal.istft(expected, window="hann", nperseg=nperseg, noverlap=nperseg - hop)
    out = istft(spec, length, cfg)
    assert out.dtype == np.float32
    assert np.max(np.abs(out - back[..., :length])) < 1e-5


def test_resample_keeps_float32_and_length() -> None:
    out = resample(speech_like(1.0), 8000, 44100)
    assert out.dtype == np.float32
    assert out.shape == (44100,)


@pytest.mark.parametrize(("n", "hop"), [(519, 31), (1600, 400), (8, 3), (4, 4)])
def test_overlap_add_is_the_sum_of_the_shifted_frames(n: int, hop: int) -> None:
    frames = np.random.default_rng(n).standard_normal((2, 7, n)).astype(np.float32)
    expected = np.zeros((2, n + 6 * hop), np.float32)
    for i in range(7):
        expected[:, i * hop : i * hop + n] += frames[:, i]
    out = overlap_add(frames, hop)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("nfft", [520, 1024])
def test_a_padded_fft_is_scipys_and_inverts(nfft: int) -> None:
    import scipy.signal

    cfg = StftConfig()
    audio = np.random.default_rng(nfft).standard_normal((2, 8000)).astype(np.float32)
    _, _, expected = scipy.signal.stft(audio, window="hann", nperseg=cfg.nperseg, noverlap=cfg.noverlap, nfft=nfft)
    spec = stft(audio, cfg, nfft=nfft)
    assert spec.shape == expected.shape == (2, nfft // 2 + 1, 260)
    assert np.max(np.abs(spec - expected)) < 1e-6
    assert np.max(np.abs(istft(spec, 8000, cfg, nfft=nfft) - audio)) < 1e-4
    with pytest.raises(ValueError, match="nfft 500 is shorter than the window"):
        stft(audio, cfg, nfft=500)
