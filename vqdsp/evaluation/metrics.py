"""Objective speech quality: STOI, PESQ, NSR and SI-SDR of an estimate against a clean reference.

Inputs are 1-D float arrays at ``sample_rate``, the clean ``reference`` first.

Alignment is explicit:

- **Different lengths**: both signals are cut to the shorter one (the tail of the longer one is
  ignored, not zero-padded).
- **A constant delay** is *not* assumed away: by default (``max_delay=0``) the signals are compared
  sample for sample. Pass ``max_delay`` (samples) to search the delay of ``estimate`` behind
  ``reference`` in ``[-max_delay, max_delay]`` by cross-correlation (:func:`estimate_delay`) and
  undo it before scoring (:func:`align`).

Undefined cases give NaN with a :class:`RuntimeWarning`, never an exception: a silent reference
(every metric), a clip too short for STOI or PESQ, and PESQ's "no utterances detected". Empty
inputs, NaN or Inf samples and bad arguments raise :class:`ValueError`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import scipy.signal

from vqdsp.audio.stft import resample
from vqdsp.extras import require

PESQ_MIN_SECONDS = 0.25  # the pesq package refuses shorter buffers
METRICS = ("pesq", "stoi", "si_sdr", "nsr")


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


@dataclass(frozen=True)
class Scores:
    """All four metrics of one estimate. Any of them may be NaN (see the module docstring).

    Args:
        pesq: PESQ MOS-LQO (nb at 8 kHz, wb at 16 kHz).
        stoi: STOI, 0..1.
        si_sdr: SI-SDR in dB, higher is better.
        nsr: noise-to-signal ratio in dB, lower is better.
    """

    pesq: float
    stoi: float
    si_sdr: float
    nsr: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, max_delay: int = 0) -> Scores:
    """Every metric of ``estimate`` against ``reference``, aligned once (see :func:`align`)."""
    ref, est = align(reference, estimate, max_delay)
    return Scores(pesq=pesq(ref, est, sample_rate), stoi=stoi(ref, est, sample_rate), si_sdr=si_sdr(ref, est), nsr=nsr(ref, est))


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
