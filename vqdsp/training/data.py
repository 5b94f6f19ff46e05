"""Training data: clean speech from folders, cut into model-sized segments and mixed with noise on the fly."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vqdsp.audio.files import find_audio_files, read_mono
from vqdsp.model.config import StftConfig
from vqdsp.training.noise import make_noise, mix_at_snr, rms
from vqdsp.audio.stft import log_magnitude, stft


@dataclass
class Corpus:
    """Utterances (float32 mono at the model's rate), split by speaker or by file, never inside a file."""

    train: list[np.ndarray]
    validation: list[np.ndarray]
    train_speakers: list[str] = field(default_factory=list)
    validation_speakers: list[str] = field(default_factory=list)


def speaker_folders(root: Path) -> dict[str, list[Path]]:
    """Files per speaker: each sub-folder of ``root`` is a speaker; files directly in ``root`` are one each."""
    speakers: dict[str, list[Path]] = {}
    for path in find_audio_files(root):
        rel = path.relative_to(root) if root.is_dir() else Path(path.name)
        speakers.setdefault(rel.parts[0] if len(rel.parts) > 1 else rel.stem, []).append(path)
    return speakers


def load_corpus(
    roots: Sequence[str | os.PathLike],
    sample_rate: int = 8000,
    validation_speakers: Sequence[str] = (),
    validation_fraction: float = 0.1,
    seed: int = 0,
    min_rms: float = 1e-3,
) -> Corpus:
    """Read every audio file under ``roots``; hold out ``validation_speakers`` (or a fraction of speakers).

    Files too quiet to hold speech (RMS below ``min_rms``) are skipped.
    """
    speakers: dict[str, list[Path]] = {}
    for root in roots:
        speakers.update(speaker_folders(Path(root)))
    if not speakers:
        raise ValueError(f"no audio files found under {', '.join(map(str, roots))}")
    unknown = set(validation_speakers) - set(speakers)
    if unknown:
        raise ValueError(f"validation speakers not found: {sorted(unknown)}; speakers are {sorted(speakers)}")
    names = sorted(speakers)
    held_out = list(validation_speakers)
    if not held_out:
        rng = np.random.default_rng(seed)
        count = max(1, round(validation_fraction * len(names))) if len(names) > 1 else 0
        held_out = sorted(rng.choice(names, size=count, replace=False).tolist())
    corpus = Corpus([], [], [n for n in names if n not in held_out], held_out)
    files = [(name, path) for name in names for path in speakers[name]]
    for name, path in tqdm(files, desc="reading corpus", unit="file", leave=False):
        try:
            audio = read_mono(path, sample_rate)
        except ValueError:
            continue
        if len(audio) and rms(audio) >= min_rms:
            (corpus.validation if name in held_out else corpus.train).append(audio)
    if not corpus.train:
        raise ValueError("no training speech left after the validation split")
    return corpus


@dataclass
class NoiseMix:
    """How clean speech is made noisy.

    Args:
        types: noise types to draw from (see :data:`vqdsp.training.noise.NOISE_TYPES`).
        snr_db: range of SNRs in dB, drawn uniformly.
        gain_db: range of overall gains in dB, so the model sees quiet and loud speech.
        spectrogram_noise: the seed's augmentation, std of Gaussian noise added to the noisy
            log-magnitude (0 turns it off).
    """

    types: tuple[str, ...] = ("white", "pink", "brown", "hum", "babble")
    snr_db: tuple[float, float] = (-5.0, 20.0)
    gain_db: tuple[float, float] = (-25.0, 5.0)
    spectrogram_noise: float = 0.0


class NoisySpeech:
    """Random (noisy, clean) segment pairs from a list of utterances.

    Args:
        utterances: clean speech at ``stft.sample_rate``.
        mix: the noise recipe.
        stft: the model's transform and segment length.
        recordings: recorded noise, needed for the ``recorded`` type.
    """

    def __init__(
        self,
        utterances: Sequence[np.ndarray],
        mix: NoiseMix = NoiseMix(),
        stft: StftConfig = StftConfig(),
        recordings: Sequence[np.ndarray] = (),
    ) -> None:
        if not utterances:
            raise ValueError("no utterances to draw from")
        self.utterances, self.mix, self.stft, self.recordings = list(utterances), mix, stft, list(recordings)
        lengths = np.array([len(u) for u in self.utterances], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def clean_segment(self, rng: np.random.Generator) -> np.ndarray:
        """A random non-silent segment of speech (short utterances are zero-padded at a random offset)."""
        n = self.stft.segment_samples
        for _ in range(20):
            utt = self.utterances[rng.choice(len(self.utterances), p=self.weights)]
            if len(utt) >= n:
                start = rng.integers(0, len(utt) - n + 1)
                seg = utt[start : start + n]
            else:
                seg = np.zeros(n, dtype=np.float32)
                offset = rng.integers(0, n - len(utt) + 1)
                seg[offset : offset + len(utt)] = utt
            if rms(seg) >= 0.2 * rms(utt):
                return seg.astype(np.float32)
        return seg.astype(np.float32)

    def pair(self, rng: np.random.Generator, kind: str | None = None, snr_db: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` waveform pair of a segment's length."""
        clean = self.clean_segment(rng)
        kind = kind or self.mix.types[rng.integers(len(self.mix.types))]
        snr = snr_db if snr_db is not None else rng.uniform(*self.mix.snr_db)
        noise = make_noise(kind, len(clean), rng, self.stft.sample_rate, self.utterances, self.recordings)
        noisy = mix_at_snr(clean, noise, snr)
        gain = 10 ** (rng.uniform(*self.mix.gain_db) / 20) / max(np.abs(clean).max(), 1e-6) * 0.5
        gain = min(gain, 0.99 / max(np.abs(noisy).max(), 1e-6))
        return noisy * gain, clean * gain

    def batch(self, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-magnitudes ``(noisy, clean)``, each ``[size, F, T]``."""
        noisy, clean = map(np.stack, zip(*(self.pair(rng) for _ in range(size))))
        noisy_lm = log_magnitude(stft(noisy, self.stft), self.stft)
        if self.mix.spectrogram_noise > 0:
            noisy_lm = noisy_lm + rng.normal(0, self.mix.spectrogram_noise, noisy_lm.shape).astype(np.float32)
        return torch.from_numpy(noisy_lm), torch.from_numpy(log_magnitude(stft(clean, self.stft), self.stft))
