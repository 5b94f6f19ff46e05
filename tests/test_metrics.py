from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from vqdsp.audio.stft import resample
from vqdsp.evaluation import metrics
from vqdsp.extras import MissingExtraError
from vqdsp.training.noise import mix_at_snr, white_noise

from utils import speech_like, wideband_speech_like


@pytest.fixture
def speech() -> np.ndarray:
    return speech_like(2.0, 8000)


@pytest.fixture
def noise(speech: np.ndarray) -> np.ndarray:
    return white_noise(len(speech), np.random.default_rng(1))


def test_identical_signals_score_perfectly(speech: np.ndarray) -> None:
    s = metrics.score(speech, speech, 8000)
    assert s.stoi == pytest.approx(1.0, abs=1e-6)
    assert s.pesq > 4.4
    assert s.si_sdr > 150
    assert s.nsr < -150


def test_pure_noise_scores_badly(speech: np.ndarray, noise: np.ndarray) -> None:
    s = metrics.score(speech, 0.1 * noise, 8000)
    assert s.stoi < 0.6
    assert s.pesq < 1.6
    assert s.si_sdr < -15


def test_si_sdr_ignores_scale_and_nsr_does_not(speech: np.ndarray) -> None:
    assert metrics.si_sdr(speech, 0.5 * speech) > 150
    assert metrics.si_sdr(speech, -3.0 * speech) > 150
    assert metrics.nsr(speech, 0.5 * speech) == pytest.approx(20 * math.log10(0.5), abs=1e-6)


@pytest.mark.parametrize("snr_db", [0.0, 5.0, 10.0])
def test_nsr_of_a_mixture_is_minus_its_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> None:
    noisy = mix_at_snr(speech, noise, snr_db)
    assert metrics.nsr(speech, noisy) == pytest.approx(-snr_db, abs=1e-3)
    assert metrics.si_sdr(speech, noisy) == pytest.approx(snr_db, abs=0.5)  # the noise is nearly orthogonal


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100])
def test_pesq_band_follows_the_rate(sample_rate: int) -> None:
    x = speech_like(2.0, sample_rate)
    assert metrics.pesq_rate(sample_rate) == ((8000, "nb") if sample_rate < 16000 else (16000, "wb"))
    assert metrics.pesq(x, x, sample_rate) > 4.4
    assert metrics.pesq_rate(sample_rate, "nb") == (8000, "nb")
    assert metrics.pesq(x, x, sample_rate, mode="nb") > 4.4


def test_different_lengths_are_cut_to_the_shorter(speech: np.ndarray) -> None:
    longer = np.concatenate([speech, np.ones(500, dtype=np.float32)])
    assert metrics.si_sdr(speech, longer) > 150
    assert metrics.si_sdr(longer, speech) > 150


@pytest.mark.parametrize("delay", [-25, 0, 37])
def test_a_constant_delay_is_found_and_undone_only_when_asked(speech: np.ndarray, delay: int) -> None:
    delayed = np.roll(speech, delay)
    assert metrics.estimate_delay(speech, delayed, 100) == delay
    assert metrics.si_sdr(speech, delayed, max_delay=100) > 40
    if delay:
        assert metrics.si_sdr(speech, delayed) < 10
        assert metrics.stoi(speech, delayed, 8000, max_delay=100) > metrics.stoi(speech, delayed, 8000)


@pytest.mark.parametrize("name", ["pesq", "stoi", "si_sdr", "nsr"])
def test_silent_reference_gives_nan_with_a_warning(speech: np.ndarray, name: str) -> None:
    fn = getattr(metrics, name)
    args = (np.zeros_like(speech), speech) + ((8000,) if name in ("pesq", "stoi") else ())
    with pytest.warns(RuntimeWarning, match="silent reference"):
        assert math.isnan(fn(*args))


@pytest.mark.parametrize(("name", "match"), [("pesq", "at least 0.25 s"), ("stoi", "0.4 s of speech")])
def test_too_short_clips_give_nan_with_a_warning(name: str, match: str) -> None:
    x = speech_like(0.2, 8000)
    with pytest.warns(RuntimeWarning, match=match):
        assert math.isnan(getattr(metrics, name)(x, x, 8000))


def test_pesq_no_utterances_gives_nan_with_a_warning(speech: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    import pesq

    def no_utterance(*args: object) -> float:
        raise pesq.NoUtterancesError(b"No utterances detected")

    monkeypatch.setattr(pesq, "pesq", no_utterance)
    with pytest.warns(RuntimeWarning, match="No utterances detected"):
        assert math.isnan(metrics.pesq(speech, speech, 8000))


@pytest.mark.parametrize(
    ("reference", "estimate", "match"),
    [
        (np.zeros(0), np.zeros(10), "empty"),
        (np.full(8000, np.nan), np.zeros(8000), "NaN"),
        (np.zeros(8000), np.full(8000, np.inf), "NaN or Inf"),
    ],
)
def test_bad_inputs_raise(reference: np.ndarray, estimate: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        metrics.nsr(reference, estimate)


def test_bad_arguments_raise(speech: np.ndarray) -> None:
    with pytest.raises(ValueError, match="use mode='nb'"):
        metrics.pesq(speech, speech, 8000, mode="wb")
    with pytest.raises(ValueError, match="max_delay"):
        metrics.estimate_delay(speech, speech, -1)


def test_mean_ci95() -> None:
    mean, half, n = metrics.mean_ci95([1.0, 2.0, 3.0, math.nan])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    assert metrics.mean_ci95([5.0])[:2] == (5.0, pytest.approx(math.nan, nan_ok=True))
    assert metrics.mean_ci95([math.nan])[2] == 0


def test_train_signatures_still_work(speech: np.ndarray) -> None:
    assert metrics.pesq(speech, speech, 8000) > 4.4
    assert metrics.stoi(speech, speech, 8000) > 0.99


@pytest.fixture
def fullband() -> np.ndarray:
    return wideband_speech_like(2.0, 48000)


def test_visqol_of_identical_audio_is_near_its_maximum_and_noise_lowers_it(fullband: np.ndarray) -> None:
    noise = white_noise(len(fullband), np.random.default_rng(1))
    same = metrics.visqol(fullband, fullband, 48000)
    assert 4.6 < same < 4.8  # audio mode's SVR tops out at about 4.73
    assert metrics.visqol(fullband, 0.5 * fullband, 48000) == pytest.approx(same, abs=1e-6)  # scaled to the reference's level
    at_20, at_5 = (metrics.visqol(fullband, mix_at_snr(fullband, noise, snr), 48000) for snr in (20.0, 5.0))
    assert same - 0.1 > at_20 > at_5 + 0.5
    assert at_5 < 3.5
    at_44k = resample(fullband, 48000, 44100)
    assert metrics.visqol(at_44k, at_44k, 44100) > 4.6  # resampled to 48 kHz


def test_visqol_undefined_cases_give_nan_with_a_warning(fullband: np.ndarray) -> None:
    with pytest.warns(RuntimeWarning, match="silent reference"):
        assert math.isnan(metrics.visqol(np.zeros_like(fullband), fullband, 48000))
    with pytest.warns(RuntimeWarning, match="silent estimate"):
        assert math.isnan(metrics.visqol(fullband, np.zeros_like(fullband), 48000))
    for seconds in (0.5, 0.05):  # fewer frames than a patch; fewer samples than a frame
        with pytest.warns(RuntimeWarning, match="ViSQOL needs about 1 s"):
            assert math.isnan(metrics.visqol(fullband[: int(seconds * 48000)], fullband[: int(seconds * 48000)], 48000))


def test_visqol_names_the_extra_when_missing(fullband: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    metrics.visqol(fullband, fullband, 48000)  # cached, and still the extra is checked
    monkeypatch.setitem(sys.modules, "visqol", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'vqdsp\[eval\]'"):
        metrics.visqol(fullband, fullband, 48000)


def test_high_band_lsd(fullband: np.ndarray) -> None:
    noise = white_noise(len(fullband), np.random.default_rng(1))
    assert metrics.high_band_lsd(fullband, fullband, 48000) == 0.0
    assert 5.0 < metrics.high_band_lsd(fullband, 0.5 * fullband, 48000) <= 20 * math.log10(2) + 1e-9  # 6 dB where not floored
    lsd = [metrics.high_band_lsd(fullband, mix_at_snr(fullband, noise, snr), 48000) for snr in (20.0, 10.0, 0.0)]
    assert 0 < lsd[0] < lsd[1] < lsd[2]
    band_limited = resample(resample(fullband, 48000, 16000), 16000, 48000)  # nothing left above 8 kHz
    assert metrics.high_band_lsd(fullband, band_limited, 48000) > 30
    assert metrics.high_band_lsd(fullband, band_limited, 48000, low_hz=4000) < metrics.high_band_lsd(fullband, band_limited, 48000)
    assert metrics.high_band_lsd(fullband, band_limited, 48000) <= metrics.LSD_FLOOR_DB  # the floor bounds it


def test_residual_above(fullband: np.ndarray) -> None:
    noise = white_noise(len(fullband), np.random.default_rng(1))
    assert metrics.residual_above(fullband, fullband, 48000) < -150
    assert metrics.residual_above(fullband, 0.5 * fullband, 48000) == pytest.approx(20 * math.log10(0.5), abs=1e-6)
    assert metrics.residual_above(fullband, np.zeros_like(fullband), 48000) == pytest.approx(0.0, abs=1e-6)  # the band removed
    noisy = mix_at_snr(fullband, noise, 10.0)
    assert metrics.residual_above(fullband, noisy, 48000) > metrics.nsr(fullband, noisy) + 3  # speech is weak above 8 kHz, white noise is not
    low_noise = fullband + resample(resample(noisy - fullband, 48000, 12000), 12000, 48000)  # the same noise below 6 kHz only
    assert metrics.residual_above(fullband, low_noise, 48000) < metrics.residual_above(fullband, noisy, 48000) - 30


@pytest.mark.parametrize("name", ["high_band_lsd", "residual_above"])
def test_high_band_measures_need_the_band(fullband: np.ndarray, name: str) -> None:
    fn = getattr(metrics, name)
    at_16k = resample(fullband, 48000, 16000)
    with pytest.warns(RuntimeWarning, match="no band above 8000 Hz"):
        assert math.isnan(fn(at_16k, at_16k, 16000))
    at_22k = resample(fullband, 48000, 22050)
    assert np.isfinite(fn(at_22k, 0.5 * at_22k, 22050))  # 8 to 11 kHz
    with pytest.warns(RuntimeWarning, match="silent reference"):
        assert math.isnan(fn(np.zeros_like(fullband), fullband, 48000))
    with pytest.raises(ValueError, match="low_hz"):
        fn(fullband, fullband, 48000, low_hz=0)


@pytest.mark.parametrize(("sample_rate", "scored"), [(8000, ()), (16000, ()), (24000, ("lsd_above_8k", "residual_above_8k")),
                                                     (48000, ("visqol", "lsd_above_8k", "residual_above_8k"))])
def test_score_computes_what_the_rate_has(sample_rate: int, scored: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    x = resample(wideband_speech_like(1.5, 48000), 48000, sample_rate)
    real_visqol = metrics.visqol
    calls = []

    def counted(*args: object, **kwargs: object) -> float:
        calls.append(1)
        return real_visqol(*args, **kwargs)

    monkeypatch.setattr(metrics, "visqol", counted)
    assert metrics.metrics_for_rate(sample_rate) == ("pesq", "stoi", "si_sdr", "nsr", *scored)
    s = metrics.score(x, 0.5 * x, sample_rate).as_dict()
    assert list(s) == list(metrics.METRICS)
    for name in ("visqol", "lsd_above_8k", "residual_above_8k"):
        assert np.isfinite(s[name]) == (name in scored), name
    assert len(calls) == ("visqol" in scored)  # ViSQOL, the slow one, only runs from 32 kHz up
