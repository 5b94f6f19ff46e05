from __future__ import annotations

import numpy as np
import pytest

from utils import speech_like
from vqdsp.config import StftConfig
from vqdsp.stft import (
    check_audio,
    crossfade_ramp,
    from_log_magnitude,
    istft,
    join_segments,
    log_magnitude,
    split_segments,
    stft,
)


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


def test_crossfade_weights_sum_to_one() -> None:
    ramp = crossfade_ramp(2000)
    assert ramp[0] == 0 and ramp[-1] == 1 and np.all(np.diff(ramp) >= 0)
    assert np.allclose(ramp + (1 - ramp), 1)


@pytest.mark.parametrize("length", [1, 2, 1999, 2000, 6001, 8000, 8001, 14000, 60 * 8000 + 17])
def test_split_and_join_is_identity(length: int) -> None:
    cfg = StftConfig()
    audio = np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    segments, plan = split_segments(audio, cfg.segment_samples, cfg.segment_overlap)
    assert segments.shape[-1] == cfg.segment_samples
    processed = istft(stft(segments), cfg.segment_samples)
    out = join_segments(processed, plan)
    assert out.shape == audio.shape
    assert np.max(np.abs(out - audio)) < 1e-4


def test_seams_have_no_level_dip() -> None:
    """A constant tone through split/join keeps its level across every seam."""
    cfg = StftConfig()
    tone = np.sin(2 * np.pi * 440 * np.arange(40000) / 8000).astype(np.float32)
    segments, plan = split_segments(tone, cfg.segment_samples, cfg.segment_overlap)
    out = join_segments(segments * 0.5, plan)
    assert np.allclose(out, tone * 0.5, atol=1e-6)


@pytest.mark.parametrize(
    ("audio", "error", "match"),
    [
        (np.zeros(0, np.float32), ValueError, "empty"),
        (np.array([0.0, np.nan], np.float32), ValueError, "NaN"),
        (np.array([0.0, np.inf], np.float32), ValueError, "NaN or Inf"),
        (np.zeros(10, np.int16), TypeError, "float"),
    ],
)
def test_bad_audio_is_named(audio: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_audio(audio)


def test_config_rejects_impossible_overlap() -> None:
    with pytest.raises(ValueError, match="noverlap"):
        StftConfig(nperseg=100, noverlap=100)
