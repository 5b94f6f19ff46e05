"""Objective speech quality: STOI, PESQ, NSR and SI-SDR of an estimate against a clean reference.

Inputs are 1-D float arrays at ``sample_rate``. The two signals must be time-aligned; if their
lengths differ, both are cut to the shorter one (a constant delay is not searched for).
"""

from __future__ import annotations

import warnings

import numpy as np

from vqdsp.audio_io import resample


def _pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = np.asarray(reference, dtype=np.float64).ravel()
    estimate = np.asarray(estimate, dtype=np.float64).ravel()
    n = min(len(reference), len(estimate))
    if n == 0:
        raise ValueError("reference and estimate must not be empty")
    if not (np.all(np.isfinite(reference[:n])) and np.all(np.isfinite(estimate[:n]))):
        raise ValueError("reference or estimate contains NaN or Inf")
    return reference[:n], estimate[:n]


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., 2019); NaN for a silent reference."""
    ref, est = _pair(reference, estimate)
    ref_energy = np.dot(ref, ref)
    if ref_energy == 0:
        warnings.warn("SI-SDR of a silent reference is undefined", RuntimeWarning, stacklevel=2)
        return float("nan")
    target = np.dot(est, ref) / ref_energy * ref
    residual = est - target
    return float(10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(residual, residual), 1e-20)))


def nsr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Noise-to-signal ratio in dB: power of ``estimate - reference`` over power of ``reference``."""
    ref, est = _pair(reference, estimate)
    ref_power = np.mean(ref**2)
    if ref_power == 0:
        warnings.warn("NSR against a silent reference is undefined", RuntimeWarning, stacklevel=2)
        return float("nan")
    return float(10 * np.log10(max(np.mean((est - ref) ** 2), 1e-20) / ref_power))


def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Short-Time Objective Intelligibility, 0..1 (pystoi)."""
    from pystoi import stoi as _stoi

    ref, est = _pair(reference, estimate)
    return float(_stoi(ref, est, sample_rate, extended=False))


def pesq(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """PESQ, -0.5..4.5: narrow band at 8 kHz, wide band at 16 kHz, other rates resampled to 16 kHz.

    Returns NaN (with a warning) when PESQ finds no utterance in the reference.
    """
    from pesq import NoUtterancesError, pesq as _pesq

    ref, est = _pair(reference, estimate)
    if sample_rate not in (8000, 16000):
        ref, est = resample(ref, sample_rate, 16000), resample(est, sample_rate, 16000)
        sample_rate = 16000
    mode = "nb" if sample_rate == 8000 else "wb"
    try:
        return float(_pesq(sample_rate, ref, est, mode))
    except NoUtterancesError:
        warnings.warn("PESQ found no utterance in the reference; returning NaN", RuntimeWarning, stacklevel=2)
        return float("nan")
