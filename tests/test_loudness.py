from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import scipy.signal
import soundfile as sf

from vqdsp.mastering.loudness import Loudness, LoudnessMeter, TruePeak, apply_gain_file, measure_file, normalisation_gain

from utils import speech_like


def _noise_with_quiet_start(rate: int, channels: int, seconds: float) -> np.ndarray:
    audio = 0.1 * np.random.default_rng(rate + channels).standard_normal((channels, int(seconds * rate)))
    audio[:, : int(0.3 * rate)] *= 1e-3  # below the relative gate
    return audio.astype(np.float32)


@pytest.mark.parametrize(("rate", "channels", "seconds"), [(8000, 1, 3.0), (11025, 1, 2.0), (44100, 2, 2.37), (48000, 5, 1.0), (16000, 2, 0.45)])
@pytest.mark.parametrize("chunk", [997, 48000])
def test_streamed_loudness_equals_pyloudnorm(rate: int, channels: int, seconds: float, chunk: int) -> None:
    audio = _noise_with_quiet_start(rate, channels, seconds)
    meter = LoudnessMeter(rate, channels)
    for i in range(0, audio.shape[1], chunk):
        meter.push(audio[:, i : i + chunk])
    expected = pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64))
    assert meter.integrated_lufs() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("chunk", [7, 100, 4096])
def test_streamed_true_peak_equals_whole_signal_oversampled_peak(chunk: int) -> None:
    audio = np.stack([speech_like(0.5, 8000, seed=1), -speech_like(0.5, 8000, seed=2)]).astype(np.float64)
    peak = TruePeak(2)
    for i in range(0, audio.shape[1], chunk):
        peak.push(audio[:, i : i + chunk])
    expected = np.abs(scipy.signal.resample_poly(audio, 4, 1, axis=1)).max()
    assert peak.finish() == pytest.approx(expected, rel=1e-9)


def test_true_peak_sees_intersample_overs() -> None:
    # A sine at fs/4 sampled 45 degrees off its crests: samples at 0.707, the wave at 1.0.
    rate = 48000
    n = np.arange(rate)
    audio = (np.sin(2 * np.pi * n / 4 + np.pi / 4) * scipy.signal.windows.tukey(rate, 0.1))[None]  # no edge overshoot
    meter = LoudnessMeter(rate, 1)
    meter.push(audio)
    result = meter.result()
    assert result.sample_peak_dbfs == pytest.approx(-3.01, abs=0.01)
    assert result.true_peak_dbtp == pytest.approx(0.0, abs=0.05)


def test_silence_and_too_short_have_no_loudness() -> None:
    meter = LoudnessMeter(8000, 1)
    meter.push(np.zeros((1, 8000)))
    assert meter.result().integrated_lufs == -math.inf
    short = LoudnessMeter(8000, 1)
    short.push(0.5 * np.ones((1, 1000)))
    assert short.result().integrated_lufs == -math.inf


def test_wrong_block_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"\(2, samples\)"):
        LoudnessMeter(8000, 2).push(np.zeros((1, 100)))


def test_gain_reaches_target_unless_the_peak_ceiling_is_lower() -> None:
    quiet = Loudness(integrated_lufs=-30.0, true_peak_dbtp=-20.0, sample_peak_dbfs=-20.0, duration_s=1.0)
    assert normalisation_gain(quiet, -16.0, -1.0).gain_db == pytest.approx(14.0)
    assert not normalisation_gain(quiet, -16.0, -1.0).peak_limited
    peaky = Loudness(integrated_lufs=-30.0, true_peak_dbtp=-5.0, sample_peak_dbfs=-5.0, duration_s=1.0)
    assert normalisation_gain(peaky, -16.0, -1.0).gain_db == pytest.approx(4.0)
    assert normalisation_gain(peaky, -16.0, -1.0).peak_limited
    silent = Loudness(-math.inf, -math.inf, -math.inf, 1.0)
    assert normalisation_gain(silent, -16.0, -1.0).gain_db == 0.0
    assert normalisation_gain(peaky, None, None).gain_db == 0.0


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_apply_gain_file_streams_gain_into_the_subtype(tmp_path: Path, subtype: str) -> None:
    source, target = tmp_path / "in.wav", tmp_path / "out.wav"
    audio = speech_like(2.0, 16000)
    sf.write(source, audio, 16000, subtype="FLOAT")
    apply_gain_file(source, target, 6.0, subtype, chunk_seconds=0.3)
    out, rate = sf.read(target, dtype="float32")
    assert (rate, sf.info(target).subtype, len(out)) == (16000, subtype, len(audio))
    np.testing.assert_allclose(out, np.clip(audio * 10 ** (6 / 20), -1, 1), atol=1e-4)
    before, after = measure_file(source), measure_file(target, chunk_seconds=0.7)
    assert after.integrated_lufs - before.integrated_lufs == pytest.approx(6.0, abs=0.01)


def test_the_gain_ceiling_binds_below_the_target_and_the_peak_ceiling() -> None:
    noise_only = Loudness(integrated_lufs=-48.0, true_peak_dbtp=-40.0, sample_peak_dbfs=-40.0, duration_s=1.0)
    norm = normalisation_gain(noise_only, -16.0, -1.0, max_gain_db=20.0)
    assert (norm.gain_db, norm.peak_limited, norm.gain_limited) == (20.0, False, True)
    assert normalisation_gain(noise_only, -16.0, -1.0).gain_db == pytest.approx(32.0)  # without a ceiling: +32 dB
    peaky = Loudness(integrated_lufs=-40.0, true_peak_dbtp=-10.0, sample_peak_dbfs=-10.0, duration_s=1.0)
    norm = normalisation_gain(peaky, -16.0, -1.0, max_gain_db=20.0)  # both bind: the lower (peak, +9 dB) wins
    assert (norm.gain_db, norm.peak_limited, norm.gain_limited) == (9.0, True, False)
    loud = Loudness(integrated_lufs=-20.0, true_peak_dbtp=-10.0, sample_peak_dbfs=-10.0, duration_s=1.0)
    assert normalisation_gain(loud, -16.0, -1.0, max_gain_db=20.0) == normalisation_gain(loud, -16.0, -1.0)
    assert not normalisation_gain(loud, -16.0, -1.0, max_gain_db=20.0).gain_limited
