from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from vqdsp.training.augment import (
    CODECS,
    apply_sos,
    band_limit_sos,
    codec_round_trip,
    formant_shift,
    measure_rt60,
    peaking_sos,
    random_band_limit_sos,
    random_eq_sos,
    reverberate,
    shelf_sos,
    speed,
    synthetic_rir,
)

from utils import speech_like


def response_db(sos: np.ndarray, freqs_hz: list[float], sample_rate: int) -> np.ndarray:
    _, h = scipy.signal.sosfreqz(sos, freqs_hz, fs=sample_rate)
    return 20 * np.log10(np.abs(h))


def peak_hz(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), 8 * len(audio)))
    return float(np.fft.rfftfreq(8 * len(audio), 1 / sample_rate)[np.argmax(spectrum)])


def sine(freq_hz: float, seconds: float, sample_rate: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq_hz * np.arange(round(seconds * sample_rate)) / sample_rate)).astype(np.float32)


@pytest.mark.parametrize("rt60_s", [0.2, 0.5, 1.0])
@pytest.mark.parametrize("sample_rate", [8000, 16000])
@pytest.mark.parametrize("tail_lowpass_hz", [None, 2000.0])
def test_rir_has_the_asked_rt60(rt60_s: float, sample_rate: int, tail_lowpass_hz: float | None) -> None:
    t20 = []
    for seed in range(5):
        ir = synthetic_rir(rt60_s, sample_rate, np.random.default_rng(seed), tail_lowpass_hz=tail_lowpass_hz)
        assert ir.dtype == np.float32
        assert ir[0] == 1.0
        assert measure_rt60(ir, sample_rate) == pytest.approx(rt60_s, rel=0.15)  # T30
        t20.append(measure_rt60(ir, sample_rate, (-5.0, -25.0)))
    assert np.mean(t20) == pytest.approx(rt60_s, rel=0.1)  # T20 varies more from one noise tail to the next


@pytest.mark.parametrize("drr_db", [-3.0, 0.0, 10.0])
def test_rir_direct_to_reverberant_ratio(drr_db: float) -> None:
    ir = synthetic_rir(0.5, 8000, np.random.default_rng(0), drr_db).astype(np.float64)
    assert 10 * np.log10(ir[0] ** 2 / np.sum(ir[1:] ** 2)) == pytest.approx(drr_db, abs=0.01)
    again = synthetic_rir(0.5, 8000, np.random.default_rng(0), drr_db)
    assert np.array_equal(ir, again)


def test_rir_has_sparse_early_reflections() -> None:
    ir = synthetic_rir(0.5, 8000, np.random.default_rng(3), 0.0)
    early = np.abs(ir[40:400])  # 5-50 ms
    assert np.sort(early)[-3:].min() > 3 * np.median(early)  # a few spikes well above the diffuse tail


@pytest.mark.parametrize("sample_rate", [8000, 16000])
@pytest.mark.parametrize(("freq_hz", "gain_db", "q"), [(1000.0, 6.0, 2.0), (300.0, -8.0, 0.7), (3000.0, 3.0, 3.0)])
def test_peaking_eq_response(sample_rate: int, freq_hz: float, gain_db: float, q: float) -> None:
    sos = peaking_sos(freq_hz, gain_db, q, sample_rate)
    centre, dc, nyquist = response_db(sos, [freq_hz, 0.0, sample_rate / 2 - 1e-6], sample_rate)
    assert centre == pytest.approx(gain_db, abs=0.1)
    assert abs(dc) < 0.1
    assert abs(nyquist) < 0.1


@pytest.mark.parametrize("gain_db", [-6.0, 4.0])
def test_shelves(gain_db: float) -> None:
    low = response_db(shelf_sos(500, gain_db, 8000, "low"), [0.0, 500.0, 3999.0], 8000)
    high = response_db(shelf_sos(2000, gain_db, 8000, "high"), [0.0, 2000.0, 3999.0], 8000)
    assert low == pytest.approx([gain_db, gain_db / 2, 0.0], abs=0.1)
    assert high == pytest.approx([0.0, gain_db / 2, gain_db], abs=0.1)


@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_band_limit(sample_rate: int) -> None:
    sos = band_limit_sos(300, 3400, sample_rate)
    beyond = min(1.5 * 3400, sample_rate / 2 - 100)
    at_low, passband, at_high, below, above = response_db(sos, [300.0, 1000.0, 3400.0, 150.0, beyond], sample_rate)
    assert at_low == pytest.approx(-3.01, abs=0.1)
    assert at_high == pytest.approx(-3.01, abs=0.1)
    assert abs(passband) < 0.1
    assert below < -20
    assert above < -10
    highpass_only = response_db(band_limit_sos(300, None, sample_rate), [150.0, 3900.0], sample_rate)
    assert highpass_only[0] < -20
    assert abs(highpass_only[1]) < 0.1
    assert response_db(band_limit_sos(None, None, sample_rate), [100.0, 3000.0], sample_rate) == pytest.approx([0, 0])


@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_random_filters_are_stable_seeded_and_in_range(sample_rate: int) -> None:
    scale = sample_rate / 8000
    for seed in range(10):
        eq = random_eq_sos(np.random.default_rng(seed), sample_rate)
        band = random_band_limit_sos(np.random.default_rng(seed), sample_rate)
        assert np.array_equal(eq, random_eq_sos(np.random.default_rng(seed), sample_rate))
        assert 3 <= len(eq) <= 5
        for sos in (eq, band):
            assert np.all(np.abs(scipy.signal.sos2zpk(sos)[1]) < 1)  # poles inside the unit circle
        gains = response_db(eq, list(np.linspace(50, 3900, 200) * scale), sample_rate)
        assert np.all(np.abs(gains) < 6 + 6 + 3 * 8)
        freqs = np.linspace(10, 3990, 400) * scale
        passed = freqs[response_db(band, list(freqs), sample_rate) > -3.01]
        assert 50 * scale <= passed.min() <= 300 * scale + 20
        assert 2800 * scale - 20 <= passed.max() <= 3900 * scale
    assert not np.array_equal(random_eq_sos(np.random.default_rng(0), 8000), random_eq_sos(np.random.default_rng(1), 8000))


def test_apply_sos_keeps_shape_and_filters_each_row() -> None:
    audio = np.stack([speech_like(0.5, seed=s) for s in range(2)])
    sos = band_limit_sos(300, 3400, 8000)
    out = apply_sos(audio, sos)
    assert out.shape == audio.shape
    assert out.dtype == np.float32
    assert np.allclose(out[1], apply_sos(audio[1], sos), atol=1e-6)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_codec_round_trip(codec: str, sample_rate: int) -> None:
    x = speech_like(1.0, sample_rate)
    y = codec_round_trip(x, sample_rate, codec)
    assert y.shape == x.shape
    assert y.dtype == np.float32
    assert np.corrcoef(x, y)[0, 1] > (0.9 if codec == "gsm" else 0.99)  # GSM 6.10 is a vocoder: about 10 dB SNR
    assert not np.allclose(x, y, atol=1e-4)  # it really went through the codec
    tone = codec_round_trip(sine(440, 1.0, sample_rate), sample_rate, codec)
    assert peak_hz(tone, sample_rate) == pytest.approx(440, abs=2)  # same rate out
    both = codec_round_trip(np.stack([x, 0.5 * x]), sample_rate, codec)
    assert both.shape == (2, len(x))
    assert np.allclose(both[0], y)


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1, 1.15])
@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_speed_scales_pitch_and_length(factor: float, sample_rate: int) -> None:
    x = sine(300, 1.0, sample_rate)
    y = speed(x, factor)
    assert len(y) == round(len(x) / factor)
    assert y.dtype == np.float32
    assert peak_hz(y[100:-100], sample_rate) == pytest.approx(300 * factor, rel=0.005)
    rows = speed(np.stack([x, x]), factor)
    assert rows.shape == (2, len(y))
    assert np.allclose(rows[0], y)


def test_reverberate_keeps_length_and_level() -> None:
    x = speech_like(1.0)
    ir = synthetic_rir(0.5, 8000, np.random.default_rng(0), 0.0)
    y = reverberate(x, ir)
    assert y.shape == x.shape
    assert y.dtype == np.float32
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=1e-4)
    assert np.corrcoef(x, y)[0, 1] < 0.9  # the room is audible
    rows = reverberate(np.stack([x, 0.1 * x]), ir)
    assert np.allclose(rows[1], 0.1 * y, atol=1e-6)
    assert np.array_equal(reverberate(np.zeros(100, np.float32), ir), np.zeros(100, np.float32))


def test_bad_arguments_are_named() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="rt60_s must be a positive"):
        synthetic_rir(-0.5, 8000, rng)
    with pytest.raises(ValueError, match="unknown codec 'mp3'"):
        codec_round_trip(np.zeros(100, np.float32), 8000, "mp3")
    for factor in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="speed factor must be a positive"):
            speed(np.zeros(100, np.float32), factor)
    with pytest.raises(ValueError, match="Nyquist"):
        peaking_sos(5000, 3, 1, 8000)
    with pytest.raises(ValueError, match="Q must be positive"):
        peaking_sos(1000, 3, 0, 8000)
    with pytest.raises(ValueError, match="'low' or 'high'"):
        shelf_sos(1000, 3, 8000, "mid")
    with pytest.raises(ValueError, match="must lie below the low-pass"):
        band_limit_sos(3000, 300, 8000)
    with pytest.raises(ValueError, match="silent impulse response"):
        measure_rt60(np.zeros(800, np.float32), 8000)
    with pytest.raises(ValueError, match="does not reach -35 dB"):
        measure_rt60(np.ones(100, np.float32), 8000)  # decays only 20 dB
    with pytest.raises(ValueError, match="end < start < 0 dB"):
        measure_rt60(synthetic_rir(1.0, 8000, rng), 8000, (-35.0, -5.0))


def _vowel(sample_rate: int, seconds: float = 2.0, f0: float = 125.0) -> np.ndarray:
    """A pulse train at ``f0`` through resonances at 1000 and 2500 Hz: a vowel with known formants."""
    pulses = np.zeros(int(seconds * sample_rate))
    pulses[:: round(sample_rate / f0)] = 1.0
    vowel = np.zeros_like(pulses)
    for freq, level in ((1000, 1.0), (2500, 0.5)):
        b, a = scipy.signal.iirpeak(freq, 8, sample_rate)
        vowel += level * scipy.signal.lfilter(b, a, pulses)
    return vowel.astype(np.float32)


def _centroid(audio: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    freqs, power = scipy.signal.welch(audio, sample_rate, nperseg=4096)
    band = (freqs > low) & (freqs < high)
    return float((freqs[band] * power[band]).sum() / power[band].sum())


@pytest.mark.parametrize("sample_rate", [8000, 16000])
@pytest.mark.parametrize("factor", [0.88, 1.12])
def test_formant_shift_moves_the_formants_and_keeps_the_pitch(sample_rate: int, factor: float) -> None:
    vowel = _vowel(sample_rate)
    out = formant_shift(vowel, sample_rate, factor)
    assert out.shape == vowel.shape
    assert out.dtype == np.float32
    before, after = _centroid(vowel, sample_rate, 1800, 3400), _centroid(out, sample_rate, 1800, 3400)
    assert after / before == pytest.approx(factor, abs=0.5 * abs(factor - 1))  # the second formant moves the right way, at least half as far
    period = round(sample_rate / 125)

    def pitch_period(x: np.ndarray) -> int:
        ac = np.correlate(x[:4000], x[:4000], "full")[3999:]
        return int(np.argmax(ac[period // 2 : 2 * period])) + period // 2

    assert abs(pitch_period(out) - pitch_period(vowel)) <= 1  # the harmonics stay: same pitch


def test_formant_shift_by_one_is_the_identity_and_bad_factors_are_named() -> None:
    speech = speech_like(0.5, 16000)
    np.testing.assert_array_equal(formant_shift(speech, 16000, 1.0), speech)
    for bad in (0.0, 3.0, float("nan")):
        with pytest.raises(ValueError, match="formant factor"):
            formant_shift(speech, 16000, bad)
