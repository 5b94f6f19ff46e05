"""Full-band audio (44.1/48 kHz): the wideband model with its stage keeps clean speech's bands up to 16 kHz and
removes noise there; the band measurement tells real full-band speech from upsampled audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vqdsp import VQDenoise
from vqdsp.audio.stft import resample
from vqdsp.model.checkpoint import load_config, resolve_model
from vqdsp.model.high_band import erb_edges, shipped_high_band_for
from vqdsp.training.band import measure_band, select_full_band

from utils import band_energies_db

FIXTURE = Path(__file__).parent / "fixtures" / "fullband_speech.flac"
"""4.7 s of real 48 kHz speech with energy to about 16 kHz (three alsa-utils prompts, a voice held out of
training; see the README's *Data and licences*)."""


def full_band_speech(rate: int = 48000) -> np.ndarray:
    audio, source_rate = sf.read(FIXTURE, dtype="float32")
    return resample(audio, source_rate, rate)


def test_the_wideband_model_ships_with_a_stage_to_20_khz() -> None:
    stage = shipped_high_band_for(load_config(resolve_model("wideband")).stft)
    assert stage is not None
    assert stage.config.top_hz == 20000
    assert stage.config.min_sample_rate == 40000  # 44.1 and 48 kHz


@pytest.mark.parametrize("rate", [44100, 48000])
def test_the_stage_keeps_clean_full_band_speech_within_1_db_per_band_up_to_16_khz(rate: int) -> None:
    """The high-band gains, from the split (7.6 kHz) to 16 kHz, in the stage's own 12 ERB bands and finer."""
    clean = full_band_speech(rate)
    effect = VQDenoise()
    stage = effect.denoiser_at(rate).high_band
    assert stage is not None
    out = effect(clean, rate)
    for count in (6, 12):
        edges = erb_edges(stage.config.split_hz, 16000, count)
        diff = band_energies_db(out, rate, edges) - band_energies_db(clean, rate, edges)
        assert np.abs(diff).max() < 1.0, dict(zip(edges[1:].round(), diff.round(2), strict=True))


def test_white_noise_is_removed_above_8_khz() -> None:
    rate = 48000
    noise = 0.02 * np.random.default_rng(2).standard_normal(3 * rate).astype(np.float32)
    edges = np.array([8000.0, 12000.0, 20000.0])
    gain = band_energies_db(VQDenoise()(noise, rate), rate, edges) - band_energies_db(noise, rate, edges)
    assert np.all(gain < -10), gain


def test_noise_above_8_khz_is_reduced_under_speech() -> None:
    rate = 48000
    clean = full_band_speech(rate)
    noise = 0.01 * np.random.default_rng(3).standard_normal(len(clean)).astype(np.float32)
    out = VQDenoise()(clean + noise, rate)
    edges = np.array([8000.0, 20000.0])
    residual = band_energies_db(out - clean, rate, edges)[0] - band_energies_db(noise, rate, edges)[0]
    assert residual < -6, residual


def test_band_measurement_tells_full_band_from_upsampled() -> None:
    clean = full_band_speech(48000)
    report = measure_band(clean, 48000)
    assert report.full_band()
    assert report.top_hz > 12000
    upsampled = resample(resample(clean, 48000, 16000), 16000, 48000)  # a 48 kHz file with nothing above 8 kHz
    rng = np.random.default_rng(0)
    hiss = upsampled + 1e-4 * rng.standard_normal(len(upsampled)).astype(np.float32)
    for audio in (upsampled, hiss):
        report = measure_band(audio, 48000)
        assert not report.full_band()
        assert report.top_hz < 10000  # its old Nyquist and the resampler's transition band


def test_select_full_band_links_the_files_that_pass(tmp_path: Path) -> None:
    voice = tmp_path / "voices" / "alice"
    voice.mkdir(parents=True)
    clean = full_band_speech(48000)
    sf.write(voice / "full.wav", clean, 48000)
    sf.write(voice / "upsampled.wav", resample(resample(clean, 48000, 16000), 16000, 48000), 48000)
    taken = select_full_band([voice], tmp_path / "out")
    assert [Path(r.path).name for r in taken] == ["full.wav"]
    assert (tmp_path / "out" / "alice" / "full.wav").resolve() == (voice / "full.wav").resolve()
    rows = (tmp_path / "out" / "band.csv").read_text().splitlines()
    assert len(rows) == 3  # header and both files, taken or not


def test_measure_band_refuses_stereo() -> None:
    with pytest.raises(ValueError, match="mono"):
        measure_band(np.zeros((2, 48000), np.float32), 48000)
