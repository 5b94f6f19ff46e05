from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vqdsp.model.config import StftConfig
from vqdsp.training.data import NoiseMix, NoisySpeech, SpeechAugmentation, load_corpus, load_noise_recordings
from vqdsp.training.noise import rms

from utils import speech_like


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    for speaker, rate in [("alice", 8000), ("bob", 16000), ("carol", 44100)]:
        folder = tmp_path / speaker
        folder.mkdir()
        for i in range(3):
            audio = speech_like(1.5 + i, rate, seed=ord(speaker[0]) + i)
            sf.write(folder / f"{i}.wav", np.stack([audio, audio], 1) if speaker == "carol" else audio, rate)
    sf.write(tmp_path / "alice" / "silence.wav", np.zeros(8000, np.float32), 8000)
    (tmp_path / "alice" / "notes.txt").write_text("not audio")
    return tmp_path


def test_split_is_by_speaker_and_resamples(corpus_dir: Path) -> None:
    corpus = load_corpus([corpus_dir], 8000, validation_speakers=["bob"])
    assert corpus.validation_speakers == ["bob"]
    assert corpus.train_speakers == ["alice", "carol"]
    assert len(corpus.validation) == 3
    assert len(corpus.train) == 6  # the silent file is skipped
    assert sorted(len(u) for u in corpus.validation) == [12000, 20000, 28000]  # 16 kHz -> 8 kHz
    assert all(u.ndim == 1 and u.dtype == np.float32 for u in corpus.train)  # stereo folded to mono


def test_default_split_holds_out_whole_speakers(corpus_dir: Path) -> None:
    corpus = load_corpus([corpus_dir], 8000)
    assert len(corpus.validation_speakers) == 1
    assert not set(corpus.validation_speakers) & set(corpus.train_speakers)


def test_unknown_validation_speaker_is_named(corpus_dir: Path) -> None:
    with pytest.raises(ValueError, match="dave"):
        load_corpus([corpus_dir], 8000, validation_speakers=["dave"])


def test_empty_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no audio files"):
        load_corpus([tmp_path], 8000)


def test_segments_are_model_sized_and_not_silent(corpus_dir: Path) -> None:
    corpus = load_corpus([corpus_dir], 8000, validation_speakers=["bob"])
    source = NoisySpeech(corpus.train, NoiseMix(types=("white",), snr_db=(5.0, 5.0), gain_db=(0.0, 0.0)))
    rng = np.random.default_rng(0)
    for _ in range(20):
        noisy, clean = source.pair(rng)
        assert noisy.shape == clean.shape == (8000,)
        assert rms(clean) > 0.01
        snr = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
        assert snr == pytest.approx(5.0, abs=0.01)
        assert np.abs(noisy).max() < 1.0


def test_batches_are_model_sized_waveforms(corpus_dir: Path) -> None:
    corpus = load_corpus([corpus_dir], 8000, validation_speakers=["bob"])
    source = NoisySpeech(corpus.train, NoiseMix(), StftConfig())
    noisy, clean = source.waveforms(3, np.random.default_rng(0))
    assert noisy.shape == clean.shape == (3, 8000)
    assert noisy.dtype == clean.dtype == torch.float32


def test_formant_warping_changes_the_speech_and_stays_off_by_default(corpus_dir: Path) -> None:
    corpus = load_corpus([corpus_dir], 8000, validation_speakers=["bob"])
    mix = NoiseMix(types=("white",), snr_db=(5.0, 5.0), gain_db=(0.0, 0.0))
    plain = NoisySpeech(corpus.train, mix, augment=SpeechAugmentation(speed=1.0))
    warped = NoisySpeech(corpus.train, mix, augment=SpeechAugmentation(speed=1.0, formant=1.0))
    a, b = plain.pair(np.random.default_rng(3))[1], warped.pair(np.random.default_rng(3))[1]
    assert a.shape == b.shape == (8000,)
    assert not np.allclose(a, b, atol=1e-3)
    assert SpeechAugmentation.robust().formant == 0.0  # the shipped models' recipe, unchanged
    assert SpeechAugmentation.voices().formant == 0.5


def test_clean_fraction_makes_nearly_clean_segments_and_is_off_by_default(corpus_dir: Path) -> None:
    corpus = load_corpus([corpus_dir], 8000, validation_speakers=["bob"])
    mix = NoiseMix(types=("white",), snr_db=(5.0, 5.0), gain_db=(0.0, 0.0))
    snrs = []
    for _ in range(40):
        noisy, clean = NoisySpeech(corpus.train, replace(mix, clean_fraction=0.5)).pair(np.random.default_rng(len(snrs)))
        snrs.append(10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2)))
    nearly_clean = [s for s in snrs if s > 29.9]
    assert 8 <= len(nearly_clean) <= 32
    assert all(s <= 50.1 for s in nearly_clean)
    assert all(s == pytest.approx(5.0, abs=0.01) for s in snrs if s <= 29.9)
    assert NoiseMix().clean_fraction == 0.0  # the shipped models' recipe, unchanged


def test_held_out_noise_and_music_stay_out_of_training(tmp_path: Path) -> None:
    """Files named for validation (a file inside a training folder, or a folder of its own) never reach training."""
    noise, music, held_music = tmp_path / "noise", tmp_path / "music", tmp_path / "held-music"
    for folder, names in ((noise, ("drill", "engine", "rain")), (music, ("a", "b")), (held_music, ("c",))):
        folder.mkdir()
        for k, name in enumerate(names):
            sf.write(folder / f"{name}.wav", np.full(4000 + 1000 * k, 0.01 * (k + 1), np.float32), 48000)
    found = load_noise_recordings(48000, [noise], [music, held_music], validation_noise=[noise / "rain.wav"], validation_music=[held_music])
    assert sorted(len(x) for x in found.recordings) == [4000, 5000]
    assert [len(x) for x in found.validation_recordings] == [6000]
    assert sorted(len(x) for x in found.music) == [4000, 5000]
    assert [len(x) for x in found.validation_music] == [4000]
    assert found.with_types(NoiseMix(types=("white",))).types == ("white", "recorded", "music")
    assert load_noise_recordings(48000).with_types(NoiseMix(types=("white",))).types == ("white",)
    assert abs(len(load_noise_recordings(16000, [noise]).recordings[0]) - 4000 / 3) <= 1  # read at the rate asked for
