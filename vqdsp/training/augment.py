"""Clean-speech augmentation: speed, microphone colouration, band limits, rooms and phone codecs.

Pure functions on float32 audio ``[samples]`` (most also take ``[..., samples]``), deterministic
given their arguments and ``numpy.random.Generator``: a handful of corpus voices in a few studio
recordings should stand for many speakers, microphones, rooms and phone lines (issue 11).
Filters are second-order sections (``sos``, as :func:`scipy.signal.sosfilt` takes them).
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import numpy as np
import scipy.signal
import soundfile as sf

from vqdsp.audio.stft import fit_length, resample

CODECS = ("gsm", "ulaw", "alaw")
_SUBTYPES = {"gsm": "GSM610", "ulaw": "ULAW", "alaw": "ALAW"}
GSM_RATE = 8000



def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Speed perturbation (tempo and pitch together, as Kaldi's): ``audio`` played ``factor`` times faster.

    Resamples by a rational approximation of ``1 / factor`` (denominators up to 100, so e.g. 0.9,
    1.1, 1.15 are exact), so a tone at f Hz comes out at ``factor * f`` Hz.

    Args:
        audio: ``[..., samples]``.
        factor: speed ratio, > 0 (e.g. 0.9 to 1.1).

    Returns:
        float32 ``[..., round(samples / factor)]``.
    """
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"speed factor must be a positive number, got {factor}")
    ratio = Fraction(factor).limit_denominator(100)
    if ratio == 0:
        raise ValueError(f"speed factor {factor} is too small; use at least 0.01")
    audio = np.asarray(audio, dtype=np.float32)
    length = round(audio.shape[-1] / factor)
    if ratio == 1:
        return fit_length(audio.copy(), length)
    out = scipy.signal.resample_poly(audio, ratio.denominator, ratio.numerator, axis=-1)
    return fit_length(out, length).astype(np.float32)


def _check_freq(freq_hz: float, sample_rate: int, what: str = "frequency") -> None:
    if not 0 < freq_hz < sample_rate / 2:
        raise ValueError(f"{what} must lie between 0 and the Nyquist frequency {sample_rate / 2:g} Hz, got {freq_hz:g} Hz")


def _biquad(b: list[float], a: list[float]) -> np.ndarray:
    return np.array([[b[0] / a[0], b[1] / a[0], b[2] / a[0], 1.0, a[1] / a[0], a[2] / a[0]]])


def peaking_sos(freq_hz: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """A peaking EQ (RBJ cookbook biquad): ``gain_db`` at ``freq_hz``, 0 dB far from it.

    Args:
        freq_hz: centre frequency, in Hz.
        gain_db: gain at the centre, in dB (negative for a notch-like dip).
        q: quality factor (> 0; higher is narrower).
        sample_rate: in Hz.

    Returns:
        sos ``[1, 6]``.
    """
    _check_freq(freq_hz, sample_rate)
    if not q > 0:
        raise ValueError(f"peaking filter Q must be positive, got {q}")
    amp = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq_hz / sample_rate
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    return _biquad([1 + alpha * amp, -2 * cos, 1 - alpha * amp], [1 + alpha / amp, -2 * cos, 1 - alpha / amp])


def shelf_sos(freq_hz: float, gain_db: float, sample_rate: int, kind: str = "low") -> np.ndarray:
    """A shelving EQ (RBJ cookbook biquad, slope 1): ``gain_db`` below (``low``) or above (``high``) ``freq_hz``.

    The gain is ``gain_db / 2`` at ``freq_hz`` itself.

    Args:
        freq_hz: shelf midpoint, in Hz.
        gain_db: gain of the shelf, in dB.
        sample_rate: in Hz.
        kind: ``"low"`` or ``"high"``.

    Returns:
        sos ``[1, 6]``.
    """
    _check_freq(freq_hz, sample_rate)
    if kind not in ("low", "high"):
        raise ValueError(f"shelf kind must be 'low' or 'high', got {kind!r}")
    amp = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq_hz / sample_rate
    cos = np.cos(w0)
    two_sqrt_a_alpha = np.sqrt(2 * amp) * np.sin(w0)  # 2 sqrt(A) alpha, alpha = sin(w0) / sqrt(2) at slope 1
    s = 1 if kind == "low" else -1  # the high shelf is the low shelf with the sign of the cosine terms flipped
    b = [amp * ((amp + 1) - s * (amp - 1) * cos + two_sqrt_a_alpha), s * 2 * amp * ((amp - 1) - s * (amp + 1) * cos),
         amp * ((amp + 1) - s * (amp - 1) * cos - two_sqrt_a_alpha)]  # fmt: skip
    a = [(amp + 1) + s * (amp - 1) * cos + two_sqrt_a_alpha, -s * 2 * ((amp - 1) + s * (amp + 1) * cos),
         (amp + 1) + s * (amp - 1) * cos - two_sqrt_a_alpha]  # fmt: skip
    return _biquad(b, a)


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A number drawn uniformly on a log scale between ``low`` and ``high`` (frequencies, rates, Q)."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def random_eq_sos(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A random microphone colouration: a tilt (low and high shelves, +-6 dB each) and 1-3 peaks/dips.

    Peaks: +-8 dB, centres 150-3500 Hz at 8 kHz, Q 0.5-3; every frequency scales with ``sample_rate / 8000``.

    Returns:
        sos ``[2 + peaks, 6]``.
    """
    scale = sample_rate / 8000
    sections = [
        shelf_sos(log_uniform(rng, 150, 600) * scale, rng.uniform(-6, 6), sample_rate, "low"),
        shelf_sos(log_uniform(rng, 1500, 3000) * scale, rng.uniform(-6, 6), sample_rate, "high"),
    ]
    for _ in range(rng.integers(1, 4)):
        sections.append(peaking_sos(log_uniform(rng, 150, 3500) * scale, rng.uniform(-8, 8), log_uniform(rng, 0.5, 3), sample_rate))
    return np.concatenate(sections)


def band_limit_sos(low_hz: float | None, high_hz: float | None, sample_rate: int, order: int = 4) -> np.ndarray:
    """Butterworth high-pass at ``low_hz`` and low-pass at ``high_hz`` (either may be None: no such filter).

    Returns:
        sos ``[sections, 6]`` (one all-pass section when both are None).
    """
    sections = [np.array([[1.0, 0, 0, 1, 0, 0]])]
    if low_hz is not None:
        _check_freq(low_hz, sample_rate, "high-pass cutoff")
        sections.append(scipy.signal.butter(order, low_hz, "highpass", fs=sample_rate, output="sos"))
    if high_hz is not None:
        _check_freq(high_hz, sample_rate, "low-pass cutoff")
        sections.append(scipy.signal.butter(order, high_hz, "lowpass", fs=sample_rate, output="sos"))
    if low_hz is not None and high_hz is not None and low_hz >= high_hz:
        raise ValueError(f"high-pass cutoff {low_hz:g} Hz must lie below the low-pass cutoff {high_hz:g} Hz")
    return np.concatenate(sections[1:] or sections)


def random_band_limit_sos(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A random channel band: high-pass at 50-300 Hz and low-pass at 2800-3900 Hz at 8 kHz (scaled with the rate)."""
    scale = sample_rate / 8000
    return band_limit_sos(rng.uniform(50, 300) * scale, rng.uniform(2800, 3900) * scale, sample_rate)


def apply_sos(audio: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Filter ``audio`` ``[..., samples]`` causally with ``sos``; float32, same shape."""
    return scipy.signal.sosfilt(sos, np.asarray(audio, dtype=np.float32), axis=-1).astype(np.float32)


def synthetic_rir(
    rt60_s: float,
    sample_rate: int,
    rng: np.random.Generator,
    direct_to_reverb_db: float | None = None,
    *,
    tail_lowpass_hz: float | None = None,
) -> np.ndarray:
    """A synthetic room impulse response with the asked reverberation time.

    A direct path of 1 at t = 0, 3-8 sparse early reflections at 5-50 ms and a tail of Gaussian
    noise whose energy decays by 60 dB in ``rt60_s`` (reflections follow the same decay). Its length
    is 1.5 x RT60 (at least 60 ms), where the tail is 90 dB down.

    Args:
        rt60_s: reverberation time, in seconds (> 0).
        sample_rate: in Hz.
        rng: draws the reflections, the tail and (when not given) the direct-to-reverberant ratio.
        direct_to_reverb_db: energy of the direct path over everything after it, in dB;
            None draws it from -3..10 dB (a talker from far across the room to close to the microphone).
        tail_lowpass_hz: low-pass the tail's noise at this frequency (air and wall absorption); None: no filter.

    Returns:
        float32 ``[samples]``, ``ir[0] == 1``.
    """
    if not (math.isfinite(rt60_s) and rt60_s > 0):
        raise ValueError(f"rt60_s must be a positive number of seconds, got {rt60_s}")
    drr = rng.uniform(-3, 10) if direct_to_reverb_db is None else direct_to_reverb_db
    length = max(round(1.5 * rt60_s * sample_rate), round(0.06 * sample_rate))
    t = np.arange(length) / sample_rate
    envelope = 10 ** (-3 * t / rt60_s)  # amplitude: energy -60 dB at rt60_s
    tail = rng.standard_normal(length)
    if tail_lowpass_hz is not None:
        _check_freq(tail_lowpass_hz, sample_rate, "tail low-pass cutoff")
        tail = scipy.signal.sosfilt(scipy.signal.butter(2, tail_lowpass_hz, fs=sample_rate, output="sos"), tail)
        tail /= np.sqrt(np.mean(tail**2))
    onset = np.clip(t / 0.005, 0, 1)  # the diffuse tail builds up over the first 5 ms
    reverb = tail * envelope * onset
    reflections = np.zeros(length)
    positions = rng.integers(round(0.005 * sample_rate), round(0.05 * sample_rate), rng.integers(3, 9))
    weight = np.sqrt(0.001 * sample_rate)  # each reflection carries about 1 ms of tail energy
    reflections[positions] = envelope[positions] * weight * rng.uniform(0.5, 1.5, len(positions)) * rng.choice([-1, 1], len(positions))
    reverb = reverb + reflections
    reverb[0] = 0.0
    reverb *= 10 ** (-drr / 20) / np.sqrt(np.sum(reverb**2))
    reverb[0] = 1.0
    return reverb.astype(np.float32)


def measure_rt60(ir: np.ndarray, sample_rate: int, fit_db: tuple[float, float] = (-5.0, -35.0)) -> float:
    """Reverberation time of ``ir`` by Schroeder backward integration.

    Fits a line to the energy decay curve between ``fit_db`` (T30 by default; ``(-5, -25)`` for T20)
    and extrapolates it to -60 dB.

    Args:
        ir: impulse response ``[samples]``.
        sample_rate: in Hz.
        fit_db: start and end of the fitted range on the decay curve, in dB below the total energy.

    Returns:
        RT60, in seconds.
    """
    energy = np.square(np.asarray(ir, dtype=np.float64))
    edc = np.cumsum(energy[::-1])[::-1]
    if edc[0] <= 0:
        raise ValueError("cannot measure the RT60 of a silent impulse response")
    edc_db = 10 * np.log10(np.maximum(edc / edc[0], 1e-300))
    top, bottom = fit_db
    if not bottom < top < 0:
        raise ValueError(f"fit_db must be (start, end) with end < start < 0 dB, got {fit_db}")
    inside = np.flatnonzero((edc_db <= top) & (edc_db >= bottom))
    if edc_db[-1] > bottom or len(inside) < 2:
        raise ValueError(f"the decay curve does not reach {bottom:g} dB; give a longer impulse response or a smaller fit range")
    slope = np.polyfit(inside / sample_rate, edc_db[inside], 1)[0]  # dB per second
    return float(-60 / slope)


def reverberate(audio: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``audio`` ``[..., samples]`` in the room of ``ir``: causal convolution cropped to the input length.

    Each signal keeps its RMS level.
    """
    audio = np.asarray(audio, dtype=np.float32)
    wet = scipy.signal.fftconvolve(audio, np.asarray(ir, dtype=np.float32).reshape((1,) * (audio.ndim - 1) + (-1,)), axes=-1)
    wet = wet[..., : audio.shape[-1]]
    before = np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=-1, keepdims=True))
    after = np.sqrt(np.mean(np.square(wet, dtype=np.float64), axis=-1, keepdims=True))
    return (wet * np.where(after > 0, before / np.maximum(after, 1e-30), 0.0)).astype(np.float32)


def codec_round_trip(audio: np.ndarray, sample_rate: int, codec: str) -> np.ndarray:
    """``audio`` encoded with a phone codec and decoded again (an in-memory WAV through soundfile).

    ``gsm`` (GSM 6.10, 13 kbit/s) works at 8 kHz only, so other rates are resampled to 8 kHz and
    back (losing what lies above 4 kHz, as a phone line does); ``ulaw`` and ``alaw`` (G.711) keep the rate.
    Samples are clipped to [-1, 1] first.

    Args:
        audio: ``[samples]`` or ``[..., samples]`` (each signal coded on its own).
        sample_rate: in Hz.
        codec: one of :data:`CODECS`.

    Returns:
        float32, the shape of ``audio``.
    """
    if codec not in _SUBTYPES:
        raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1:
        flat = audio.reshape(-1, audio.shape[-1])
        return np.stack([codec_round_trip(x, sample_rate, codec) for x in flat]).reshape(audio.shape)
    rate = GSM_RATE if codec == "gsm" else sample_rate
    x = resample(audio, sample_rate, rate)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(x, -1, 1), rate, format="WAV", subtype=_SUBTYPES[codec])
    buffer.seek(0)
    decoded = fit_length(sf.read(buffer, dtype="float32")[0], len(x))
    if rate != sample_rate:
        decoded = fit_length(resample(decoded, rate, sample_rate), len(audio))
    return decoded.astype(np.float32)


FORMANT_WINDOW_S = 0.032  # analysis window of the formant shift (hop a quarter of it)
FORMANT_LIFTER_S = 0.002  # envelope = cepstrum below 2 ms: above every voice's f0 period (f0 < 500 Hz)
FORMANT_MAX_DB = 15.0  # largest boost or cut the envelope ratio may apply at one frequency


def formant_shift(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Vocal-tract length warping: the spectral envelope (formants) scaled by ``factor``, the pitch kept.

    Speed perturbation moves pitch and formants together; this moves the formants alone, as a
    shorter (``factor > 1``) or longer vocal tract would, so one voice stands for more speakers.
    Each STFT frame's envelope is its low-quefrency cepstrum (below :data:`FORMANT_LIFTER_S`);
    the frame is multiplied by the ratio of the warped envelope to its own (a smooth real gain,
    bounded to +/- :data:`FORMANT_MAX_DB`), so the harmonics stay where they are and only their
    levels follow the moved formants.

    Args:
        audio: ``[samples]`` float.
        sample_rate: in Hz.
        factor: envelope scale, e.g. 0.88 to 1.14 (1: unchanged).

    Returns:
        float32 ``[samples]``.
    """
    if not (math.isfinite(factor) and 0.5 <= factor <= 2.0):
        raise ValueError(f"formant factor must be between 0.5 and 2, got {factor}")
    audio = np.asarray(audio, dtype=np.float32)
    if factor == 1.0 or audio.shape[-1] == 0:
        return audio.copy()
    nperseg = 1 << max(4, round(math.log2(FORMANT_WINDOW_S * sample_rate)))
    _, _, spec = scipy.signal.stft(audio, nperseg=nperseg, noverlap=3 * nperseg // 4, boundary="even")
    log_mag = np.log(np.abs(spec) + 1e-7)
    cepstrum = np.fft.irfft(log_mag, axis=0)
    lifter = max(2, round(FORMANT_LIFTER_S * sample_rate))
    cepstrum[lifter : nperseg - lifter + 1] = 0.0
    envelope = np.fft.rfft(cepstrum, axis=0).real  # log envelope per frame, [bins, frames]
    bins = np.arange(envelope.shape[0], dtype=np.float64)
    source = np.clip(bins / factor, 0, bins[-1])
    lower = np.floor(source).astype(int)
    upper = np.minimum(lower + 1, len(bins) - 1)
    weight = (source - lower)[:, None]
    warped = (1 - weight) * envelope[lower] + weight * envelope[upper]
    limit = FORMANT_MAX_DB / 20 * math.log(10)
    gain = np.exp(np.clip(warped - envelope, -limit, limit))
    _, out = scipy.signal.istft(spec * gain, nperseg=nperseg, noverlap=3 * nperseg // 4, boundary=True)
    return fit_length(out, audio.shape[-1]).astype(np.float32)
