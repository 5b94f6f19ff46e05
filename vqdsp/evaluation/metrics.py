"""Objective speech quality: STOI, PESQ, NSR and SI-SDR of an estimate against a clean reference.

For full-band audio also ViSQOL v3 (audio mode, at 48 kHz; scored from 32 kHz up) and two measures of
the band above 8 kHz, which PESQ and STOI never see: its log-spectral distance and its residual
noise (from 16 kHz up). :func:`metrics_for_rate` says which metrics apply at a rate.

Inputs are 1-D float arrays at ``sample_rate``, the clean ``reference`` first.

Alignment is explicit:

- **Different lengths**: both signals are cut to the shorter one (the tail of the longer one is
  ignored, not zero-padded).
- **A constant delay** is *not* assumed away: by default (``max_delay=0``) the signals are compared
  sample for sample. Pass ``max_delay`` (samples) to search the delay of ``estimate`` behind
  ``reference`` in ``[-max_delay, max_delay]`` by cross-correlation (:func:`estimate_delay`) and
  undo it before scoring (:func:`align`).

Undefined cases give NaN with a :class:`RuntimeWarning`, never an exception: a silent reference
(every metric), a clip too short for STOI, PESQ or ViSQOL, PESQ's "no utterances detected", a silent
estimate (ViSQOL), and a band above 8 kHz that the rate lacks or the reference leaves empty. Empty
inputs, NaN or Inf samples and bad arguments raise :class:`ValueError`.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.signal

from vqdsp.audio.stft import resample
from vqdsp.extras import require

PESQ_MIN_SECONDS = 0.25  # the pesq package refuses shorter buffers
VISQOL_RATE = 48000  # ViSQOL's audio mode works at 48 kHz (32 gammatone bands up to 15 kHz)
VISQOL_MIN_RATE = 32000  # below this the audio lacks much of ViSQOL's band, and it is slow: not scored
HIGH_BAND_HZ = 8000.0  # the band above wide-band speech (PESQ-wb's and GTCRN's limit)
LSD_FLOOR_DB = 80.0  # power spectra are floored this far below the reference's peak in the band
LSD_FRAME_SECONDS = 0.032
METRICS = ("pesq", "stoi", "si_sdr", "nsr", "visqol", "lsd_above_8k", "residual_above_8k")


def estimate_delay(reference: np.ndarray, estimate: np.ndarray, max_delay: int) -> int:
    """Delay of ``estimate`` behind ``reference`` in samples (negative: ahead), within ``±max_delay``.

    The peak of the full cross-correlation; 0 when either signal is silent.
    """
    if max_delay < 0:
        raise ValueError(f"max_delay must be >= 0 samples, got {max_delay}")
    ref = np.asarray(reference, dtype=np.float64).ravel()
    est = np.asarray(estimate, dtype=np.float64).ravel()
    if max_delay == 0 or not ref.any() or not est.any():
        return 0
    corr = scipy.signal.correlate(est, ref, mode="full", method="fft")
    lags = scipy.signal.correlation_lags(len(est), len(ref), mode="full")
    keep = np.abs(lags) <= max_delay
    return int(lags[keep][np.argmax(corr[keep])])


def align(reference: np.ndarray, estimate: np.ndarray, max_delay: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(reference, estimate)`` as float64, a found constant delay undone, cut to a common length.

    Args:
        reference: ``[samples]`` clean signal.
        estimate: ``[samples]`` signal to score.
        max_delay: largest delay to search for, in samples (0: no search, compare as given).
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    est = np.asarray(estimate, dtype=np.float64).ravel()
    if ref.size == 0 or est.size == 0:
        raise ValueError("reference and estimate must not be empty")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
        raise ValueError("reference or estimate contains NaN or Inf; clean or replace those samples first")
    delay = estimate_delay(ref, est, max_delay)
    if delay > 0:
        est = est[delay:]
    elif delay < 0:
        ref = ref[-delay:]
    n = min(len(ref), len(est))
    if n == 0:
        raise ValueError("reference and estimate do not overlap after undoing their delay")
    return ref[:n], est[:n]


def _undefined(what: str) -> float:
    warnings.warn(f"{what}; returning NaN", RuntimeWarning, stacklevel=3)
    return math.nan


def si_sdr(reference: np.ndarray, estimate: np.ndarray, *, max_delay: int = 0) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., 2019).

    The estimate is projected on the reference; the ratio of that target's energy to the
    residual's is capped at +-200 dB (a scaled copy of the reference scores about 200).
    """
    ref, est = align(reference, estimate, max_delay)
    ref_energy = np.dot(ref, ref)
    if ref_energy == 0:
        return _undefined("SI-SDR of a silent reference is undefined")
    target = np.dot(est, ref) / ref_energy * ref
    residual = est - target
    return float(10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(residual, residual), 1e-20)))


def nsr(reference: np.ndarray, estimate: np.ndarray, *, max_delay: int = 0) -> float:
    """Noise-to-signal ratio in dB: power of ``estimate - reference`` over power of ``reference``.

    Lower is better; a mixture at an SNR of ``x`` dB has an NSR of ``-x`` dB. Not scale-invariant:
    an estimate at the wrong level is penalised.
    """
    ref, est = align(reference, estimate, max_delay)
    ref_power = np.mean(ref**2)
    if ref_power == 0:
        return _undefined("NSR against a silent reference is undefined")
    return float(10 * np.log10(max(np.mean((est - ref) ** 2), 1e-20) / ref_power))


def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, max_delay: int = 0) -> float:
    """Short-Time Objective Intelligibility, 0..1 (pystoi; it works at 10 kHz internally).

    NaN with a warning for a silent reference or one with less than about 0.4 s of speech.
    """
    _stoi = require("pystoi", "eval").stoi

    ref, est = align(reference, estimate, max_delay)
    if not ref.any():
        return _undefined("STOI of a silent reference is undefined")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(_stoi(ref, est, sample_rate, extended=False))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return _undefined(f"STOI needs about 0.4 s of speech, got a {len(ref) / sample_rate:.2f} s clip")
    return value


def pesq_rate(sample_rate: int, mode: str | None = None) -> tuple[int, str]:
    """The rate and PESQ mode used for audio at ``sample_rate``: nb at 8 kHz, wb at 16 kHz.

    With ``mode=None``, rates below 16 kHz are scored narrow band (resampled to 8 kHz), others wide
    band (resampled to 16 kHz). ``mode="nb"`` forces narrow band at any rate.
    """
    if mode not in (None, "nb", "wb"):
        raise ValueError(f"PESQ mode must be 'nb', 'wb' or None, got {mode!r}")
    if mode is None:
        mode = "nb" if sample_rate < 16000 else "wb"
    if mode == "wb" and sample_rate < 16000:
        raise ValueError(f"wide-band PESQ needs audio at 16 kHz or more, got {sample_rate} Hz; use mode='nb'")
    return (8000 if mode == "nb" else 16000), mode


def pesq(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, mode: str | None = None, max_delay: int = 0) -> float:
    """PESQ (ITU-T P.862 MOS-LQO, about 1..4.5; :func:`pesq_rate` says which band).

    NaN with a warning when PESQ finds no utterance in the reference (its "No utterances
    detected"), for a silent reference, and for clips shorter than a quarter of a second.
    """
    pesq_module = require("pesq", "eval")
    _pesq, BufferTooShortError, NoUtterancesError = pesq_module.pesq, pesq_module.BufferTooShortError, pesq_module.NoUtterancesError

    rate, mode = pesq_rate(sample_rate, mode)
    ref, est = align(reference, estimate, max_delay)
    if not ref.any():
        return _undefined("PESQ of a silent reference is undefined")
    if len(ref) < PESQ_MIN_SECONDS * sample_rate:
        return _undefined(f"PESQ needs at least {PESQ_MIN_SECONDS} s, got a {len(ref) / sample_rate:.3f} s clip")
    ref, est = resample(ref, sample_rate, rate), resample(est, sample_rate, rate)
    try:
        return float(_pesq(rate, ref, est, mode))
    except NoUtterancesError:
        return _undefined("PESQ found no utterance in the reference (No utterances detected)")
    except BufferTooShortError:
        return _undefined("the clip is too short for PESQ")


@functools.lru_cache(maxsize=1)
def _visqol_api() -> Any:
    """One ViSQOL instance in audio mode with its bundled SVR model (loading it takes a second)."""
    api = require("visqol", "eval").VisqolApi()
    api.create(mode="audio")
    return api


def visqol(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, max_delay: int = 0) -> float:
    """ViSQOL v3 MOS-LQO in audio mode (visqol-python, bundled SVR model; about 1..4.73, higher is better).

    Both signals are resampled to 48 kHz. ViSQOL scales the estimate to the reference's level, so
    the score ignores gain. NaN with a warning for a silent reference or estimate and for clips
    shorter than about 1 s (fewer frames than one of its patches). Slow: about 0.2 s per second of
    audio with numba (the first call in a fresh install compiles its kernels for ~10 s), ~9x that without.
    """
    require("visqol", "eval")  # every call: a missing extra is named, whatever the cache holds
    api = _visqol_api()
    ref, est = align(reference, estimate, max_delay)
    if not ref.any():
        return _undefined("ViSQOL of a silent reference is undefined")
    if not est.any():
        return _undefined("ViSQOL of a silent estimate is undefined (it scales the estimate to the reference's level)")
    ref48 = resample(ref, sample_rate, VISQOL_RATE).astype(np.float64)
    est48 = resample(est, sample_rate, VISQOL_RATE).astype(np.float64)
    try:
        return float(api.measure_from_arrays(ref48, est48, VISQOL_RATE).moslqo)
    except ValueError as err:
        if "patch size" in str(err) or "Too few samples" in str(err):
            return _undefined(f"ViSQOL needs about 1 s, got a {len(ref) / sample_rate:.2f} s clip")
        raise


def _check_high_band(sample_rate: int, low_hz: float) -> str | None:
    """Why the band above ``low_hz`` cannot be scored at ``sample_rate``, or None."""
    if not low_hz > 0:
        raise ValueError(f"low_hz must be > 0 Hz, got {low_hz}")
    if sample_rate / 2 <= low_hz:
        return f"audio at {sample_rate} Hz has no band above {low_hz:g} Hz (it needs a rate above {2 * low_hz:g} Hz)"
    return None


def high_band_lsd(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, low_hz: float = HIGH_BAND_HZ, *, max_delay: int = 0) -> float:
    """Log-spectral distance above ``low_hz`` in dB: how far the estimate's high-band spectrum is from the reference's.

    Per 32 ms Hann frame (75% overlap), the RMS over the bins above ``low_hz`` of the difference of
    the two log power spectra, averaged over frames. Both spectra are floored :data:`LSD_FLOOR_DB`
    below the reference's peak in the band, so a band silent in both costs nothing and a band
    removed costs a bounded amount. 0 for identical signals, lower is better; not gain-invariant.
    NaN with a warning when the rate has no band above ``low_hz`` or the reference is silent there.
    """
    ref, est = align(reference, estimate, max_delay)
    if (why := _check_high_band(sample_rate, low_hz)) is not None:
        return _undefined(f"high-band LSD is undefined: {why}")
    nperseg = max(2, round(LSD_FRAME_SECONDS * sample_rate))
    freqs, _, ref_spec = scipy.signal.stft(ref, sample_rate, window="hann", nperseg=nperseg, noverlap=nperseg * 3 // 4)
    _, _, est_spec = scipy.signal.stft(est, sample_rate, window="hann", nperseg=nperseg, noverlap=nperseg * 3 // 4)
    band = freqs > low_hz
    ref_power, est_power = np.abs(ref_spec[band]) ** 2, np.abs(est_spec[band]) ** 2  # [bins, frames]
    peak = ref_power.max()
    if peak == 0:
        return _undefined(f"high-band LSD of a silent reference (nothing above {low_hz:g} Hz) is undefined")
    floor = peak * 10 ** (-LSD_FLOOR_DB / 10)
    diff = 10 * np.log10(np.maximum(ref_power, floor)) - 10 * np.log10(np.maximum(est_power, floor))
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def residual_above(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, low_hz: float = HIGH_BAND_HZ, *, max_delay: int = 0) -> float:
    """Residual noise above ``low_hz`` in dB: energy of ``estimate - reference`` there over the reference's energy there.

    The high band's NSR (:func:`nsr`): a mixture with white noise has a high one, since speech is weak
    above 8 kHz; an estimate that removes the band entirely scores 0 dB, one that keeps it clean far
    below. Lower is better; not gain-invariant. NaN with a warning when the rate has no band above
    ``low_hz`` or the reference is silent there.
    """
    ref, est = align(reference, estimate, max_delay)
    if (why := _check_high_band(sample_rate, low_hz)) is not None:
        return _undefined(f"the residual above {low_hz:g} Hz is undefined: {why}")
    band = np.fft.rfftfreq(len(ref), 1 / sample_rate) > low_hz
    ref_energy = np.sum(np.abs(np.fft.rfft(ref)[band]) ** 2)
    if ref_energy == 0:
        return _undefined(f"the residual above {low_hz:g} Hz of a silent reference (nothing there) is undefined")
    error_energy = np.sum(np.abs(np.fft.rfft(est - ref)[band]) ** 2)
    return float(10 * np.log10(max(error_energy, 1e-20 * ref_energy) / ref_energy))


def metrics_for_rate(sample_rate: int) -> tuple[str, ...]:
    """The :data:`METRICS` :func:`score` computes at ``sample_rate``; the others it leaves NaN.

    ViSQOL from :data:`VISQOL_MIN_RATE` up; the measures above :data:`HIGH_BAND_HZ` when the rate has that band.
    """
    skip = set()
    if sample_rate < VISQOL_MIN_RATE:
        skip.add("visqol")
    if sample_rate / 2 <= HIGH_BAND_HZ:
        skip |= {"lsd_above_8k", "residual_above_8k"}
    return tuple(m for m in METRICS if m not in skip)


@dataclass(frozen=True)
class Scores:
    """The metrics of one estimate. Any of them may be NaN (see the module docstring).

    Args:
        pesq: PESQ MOS-LQO (nb at 8 kHz, wb at 16 kHz).
        stoi: STOI, 0..1.
        si_sdr: SI-SDR in dB, higher is better.
        nsr: noise-to-signal ratio in dB, lower is better.
        visqol: ViSQOL MOS-LQO (audio mode), higher is better; NaN below :data:`VISQOL_MIN_RATE`.
        lsd_above_8k: log-spectral distance above 8 kHz in dB, lower is better; NaN at 16 kHz and below.
        residual_above_8k: residual noise above 8 kHz in dB (:func:`residual_above`), lower is better; NaN at 16 kHz and below.
    """

    pesq: float
    stoi: float
    si_sdr: float
    nsr: float
    visqol: float = math.nan
    lsd_above_8k: float = math.nan
    residual_above_8k: float = math.nan

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, max_delay: int = 0) -> Scores:
    """Every metric of ``estimate`` against ``reference`` that applies at the rate (:func:`metrics_for_rate`), aligned once.

    The others are NaN without a warning; ViSQOL, the slow one, is only run from :data:`VISQOL_MIN_RATE` up.
    """
    ref, est = align(reference, estimate, max_delay)
    wanted = metrics_for_rate(sample_rate)
    return Scores(
        pesq=pesq(ref, est, sample_rate), stoi=stoi(ref, est, sample_rate), si_sdr=si_sdr(ref, est), nsr=nsr(ref, est),
        visqol=visqol(ref, est, sample_rate) if "visqol" in wanted else math.nan,
        lsd_above_8k=high_band_lsd(ref, est, sample_rate) if "lsd_above_8k" in wanted else math.nan,
        residual_above_8k=residual_above(ref, est, sample_rate) if "residual_above_8k" in wanted else math.nan,
    )


def mean_ci95(values: np.ndarray | list[float]) -> tuple[float, float, int]:
    """``(mean, half-width of the 95% confidence interval, n)`` of the finite values (Student's t).

    The half-width is NaN with fewer than two values; the mean is NaN with none.
    """
    import scipy.stats

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan, 0
    if len(x) == 1:
        return float(x[0]), math.nan, 1
    half = scipy.stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half), len(x)
