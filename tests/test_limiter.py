"""The true-peak limiter of the loudness step: it meets the ceiling, streams exactly, changes smoothly."""

from __future__ import annotations

import numpy as np
import pytest

from vqdsp.mastering.limiter import TruePeakLimiter
from vqdsp.mastering.loudness import LoudnessMeter

from utils import speech_like


def _limit(audio: np.ndarray, rate: int, chunk: int, **kwargs) -> tuple[np.ndarray, TruePeakLimiter]:
    limiter = TruePeakLimiter(rate, audio.shape[0], -1.0, **kwargs)
    parts = [limiter.process(audio[:, i : i + chunk]) for i in range(0, audio.shape[1], chunk)]
    return np.concatenate([*parts, limiter.flush()], axis=1), limiter


def _true_peak_dbtp(audio: np.ndarray, rate: int) -> float:
    meter = LoudnessMeter(rate, audio.shape[0])
    meter.push(audio)
    return meter.result().true_peak_dbtp


def _loud_speech(rate: int, seconds: float = 2.0) -> np.ndarray:
    """Speech-like stereo lifted 15 dB: peaks about 5 dB over full scale, as a loud talker at -16 LUFS."""
    left, right = speech_like(seconds, rate, seed=1), speech_like(seconds, rate, seed=2)
    return (np.stack([left, 0.7 * right]) * 10 ** (15 / 20)).astype(np.float32)


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_output_stays_under_the_ceiling_with_the_input_length(rate: int) -> None:
    audio = _loud_speech(rate)
    assert _true_peak_dbtp(audio, rate) > 3.0
    out, limiter = _limit(audio, rate, chunk=4096)
    assert out.shape == audio.shape
    assert _true_peak_dbtp(out, rate) <= -1.0
    assert limiter.max_reduction_db > 3.0
    assert 0.0 < limiter.limited_fraction <= 1.0


def test_the_reduction_is_linked_across_channels_and_lines_up_with_the_input() -> None:
    audio = _loud_speech(16000)
    out, _ = _limit(audio, 16000, chunk=16000)
    loud = np.abs(audio).min(axis=0) > 1e-3
    gain = out[:, loud] / audio[:, loud]
    np.testing.assert_allclose(gain[0], gain[1], rtol=1e-5)  # one gain for both channels, no delay
    assert gain.max() <= 1.0 + 1e-6


@pytest.mark.parametrize("chunk", [1, 37, 1000])
def test_streaming_in_any_chunks_gives_the_whole_signal_result(chunk: int) -> None:
    audio = _loud_speech(8000, 1.0)
    whole, _ = _limit(audio, 8000, chunk=audio.shape[1])
    pieces, _ = _limit(audio, 8000, chunk=chunk)
    np.testing.assert_allclose(pieces, whole, atol=1e-6)


def test_audio_under_the_ceiling_passes_bit_for_bit() -> None:
    audio = 0.5 * _loud_speech(16000) / np.abs(_loud_speech(16000)).max()  # peaks at -6 dBFS
    out, limiter = _limit(audio, 16000, chunk=3000)
    np.testing.assert_array_equal(out, audio)
    assert limiter.max_reduction_db == 0.0
    assert limiter.limited_fraction == 0.0


def test_a_single_peak_is_caught_from_the_first_sample() -> None:
    audio = np.full((1, 2000), 0.1, np.float32)
    audio[0, 0], audio[0, 1500] = 2.0, -3.0  # a peak at the very start too: nothing before it to look ahead from
    out, _ = _limit(audio, 16000, chunk=2000)
    assert _true_peak_dbtp(out, 16000) <= -1.0
    assert abs(out[0, 0]) == pytest.approx(10 ** (-1.1 / 20), rel=1e-3)


def _reduction_db(out: np.ndarray, audio: np.ndarray) -> np.ndarray:
    return -20 * np.log10(out[0] / audio[0])


def test_gain_reduction_changes_smoothly_on_a_steady_tone_with_speech() -> None:
    """No pumping: on a steady tone under speech, the reduction moves at most its own size per look-ahead
    time (attack) and recovers with the release time constant, never in steps."""
    rate, lookahead_ms, release_ms = 16000, 5.0, 150.0
    t = np.arange(3 * rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.8  # offset: a divisor never near zero, to read the gain off
    audio = (tone + 2.5 * speech_like(3.0, rate, seed=3)).astype(np.float32)[None]
    out, limiter = _limit(audio, rate, chunk=4000, lookahead_ms=lookahead_ms, release_ms=release_ms)
    reduction = _reduction_db(out, audio)
    per_ms = np.abs(np.diff(reduction)) * rate / 1000  # dB per ms
    assert limiter.max_reduction_db > 3.0
    assert per_ms.max() <= limiter.max_reduction_db / lookahead_ms * 1.01
    assert per_ms.max() < 2.0  # about a tenth of a dB per sample at most: no click
    # After the last peak the reduction decays as exp(-t / release): after one release time, 1/e of it.
    last = int(np.nonzero(reduction > 0.5 * reduction.max())[0].max())
    later = last + int(release_ms * rate / 1000)
    if later < len(reduction) - 1:
        assert reduction[later] <= reduction[last] / np.e * 1.05


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"ceiling_dbtp": 3.0}, "ceiling"), ({"ceiling_dbtp": float("nan")}, "ceiling"), ({"release_ms": 0.0}, "release"),
     ({"lookahead_ms": 1e6}, "look-ahead")],
)
def test_bad_settings_are_refused_by_name(kwargs: dict, message: str) -> None:
    settings = {"ceiling_dbtp": -1.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        TruePeakLimiter(48000, 2, **settings)


def test_a_block_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(2, samples\)"):
        TruePeakLimiter(48000, 2, -1.0).process(np.zeros((1, 100), np.float32))
