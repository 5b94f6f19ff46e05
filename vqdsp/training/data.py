"""Training data: clean speech from folders, cut into model-sized segments and mixed with noise on the fly."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vqdsp.audio.files import find_audio_files, read_mono
from vqdsp.model.config import StftConfig
from vqdsp.training import augment
from vqdsp.training.noise import make_noise, mix_at_snr, rms


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
    unreadable: list[str] = []
    for name, path in tqdm(files, desc="reading corpus", unit="file", leave=False):
        try:
            audio = read_mono(path, sample_rate)
        except ValueError as err:
            unreadable.append(str(err))
            continue
        if len(audio) and rms(audio) >= min_rms:
            (corpus.validation if name in held_out else corpus.train).append(audio)
    if not corpus.train:
        why = f"; {len(unreadable)} of {len(files)} files could not be read (first: {unreadable[0]})" if unreadable else ""
        raise ValueError(f"no training speech left after the validation split (speakers {', '.join(corpus.train_speakers)}){why}")
    return corpus


@dataclass(frozen=True)
class NoiseMix:
    """How clean speech is made noisy.

    Args:
        types: noise types to draw from (see :data:`vqdsp.training.noise.NOISE_TYPES`); ``music``
            needs music recordings, ``recorded`` noise recordings.
        snr_db: range of SNRs in dB, drawn uniformly.
        gain_db: range of overall gains in dB, so the model sees quiet and loud speech.
        spectrogram_noise: the seed's augmentation, std of Gaussian noise added to the noisy
            log-magnitude (0 turns it off).
        second_noise: probability that a second noise type is added to the first (at 0 to -10 dB
            relative to it), as when a fan hums under a talking crowd.
        clean_fraction: share of segments whose noise sits :data:`CLEAN_SNR_DB` under the speech:
            nearly clean speech, which the model should pass untouched (meant to keep it from taking
            fricatives for noise; the README's second full-band trial used 0.1 and did not ship).
    """

    types: tuple[str, ...] = ("white", "pink", "brown", "hum", "babble", "clicks", "keyboard", "modulated", "fan")
    snr_db: tuple[float, float] = (-5.0, 20.0)
    gain_db: tuple[float, float] = (-25.0, 5.0)
    spectrogram_noise: float = 0.0
    second_noise: float = 0.0
    clean_fraction: float = 0.0


@dataclass
class NoiseRecordings:
    """Recorded noise and music for the ``recorded`` and ``music`` noise types, at one rate: the training
    files, and the files held out of training for validation."""

    recordings: list[np.ndarray] = field(default_factory=list)
    music: list[np.ndarray] = field(default_factory=list)
    validation_recordings: list[np.ndarray] = field(default_factory=list)
    validation_music: list[np.ndarray] = field(default_factory=list)

    def with_types(self, mix: NoiseMix) -> NoiseMix:
        """``mix`` with ``recorded`` and ``music`` added where there are training files for them."""
        for kind, present in (("recorded", self.recordings), ("music", self.music)):
            if present and kind not in mix.types:
                mix = replace(mix, types=mix.types + (kind,))
        return mix


def load_noise_recordings(
    sample_rate: int, noise_dirs: Sequence[str | os.PathLike] = (), music_dirs: Sequence[str | os.PathLike] = (),
    validation_noise: Sequence[str | os.PathLike] = (), validation_music: Sequence[str | os.PathLike] = (),
) -> NoiseRecordings:
    """Read the noise and music folders at ``sample_rate``; files under ``validation_*`` (folders or files, inside
    the training folders or not) are kept out of training and returned for validation."""

    def split(folders: Sequence[str | os.PathLike], held: Sequence[str | os.PathLike]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        held_out = {path.resolve() for entry in held for path in find_audio_files(entry)}
        train = [read_mono(path, sample_rate) for entry in folders for path in find_audio_files(entry) if path.resolve() not in held_out]
        return train, [read_mono(path, sample_rate) for path in sorted(held_out)]

    recordings, validation_recordings = split(noise_dirs, validation_noise)
    music, validation_music_audio = split(music_dirs, validation_music)
    return NoiseRecordings(recordings, music, validation_recordings, validation_music_audio)


CLEAN_SNR_DB = (30.0, 50.0)
"""SNR range of :attr:`NoiseMix.clean_fraction`'s nearly clean segments."""


@dataclass(frozen=True)
class SpeechAugmentation:
    """How clean speech is varied before noise is added, so that a few corpus voices stand for many.

    Each step happens with its probability (0 turns it off). The target keeps what is done to the
    speech: the model learns to remove additive noise, not the room, the microphone or the codec
    (a reverberant recording stays reverberant, only cleaner).

    Args:
        speed: probability of speed perturbation (speed and pitch together), factor in ``speed_range``.
        speed_range: speed factors.
        reverb: probability of a synthetic room, RT60 in ``rt60_s``.
        rt60_s: reverberation times in seconds.
        eq: probability of a random microphone colouration (applied to speech and noise alike).
        band_limit: probability of a random band limit (speech and noise alike).
        codec: probability of a phone codec round trip (GSM 6.10 or G.711) of the noisy and the clean signal.
        formant: probability of vocal-tract length warping (formants scaled, pitch kept; see
            :func:`vqdsp.training.augment.formant_shift`), factor in ``formant_range``.
        formant_range: formant scale factors.
    """

    speed: float = 0.0
    speed_range: tuple[float, float] = (0.9, 1.1)
    reverb: float = 0.0
    rt60_s: tuple[float, float] = (0.15, 0.8)
    eq: float = 0.0
    band_limit: float = 0.0
    codec: float = 0.0
    formant: float = 0.0
    formant_range: tuple[float, float] = (0.88, 1.14)

    @classmethod
    def robust(cls) -> SpeechAugmentation:
        """The recipe of the shipped ``fast`` model."""
        return cls(speed=0.5, reverb=0.3, eq=0.5, band_limit=0.3, codec=0.2)

    @classmethod
    def voices(cls) -> SpeechAugmentation:
        """:meth:`robust` with vocal-tract length warping in half the segments: for corpora of few voices."""
        return replace(cls.robust(), formant=0.5)


class NoisySpeech:
    """Random (noisy, clean) segment pairs from a list of utterances.

    Args:
        utterances: clean speech at ``stft.sample_rate``.
        mix: the noise recipe.
        stft: the model's transform and segment length.
        recordings: recorded noise, needed for the ``recorded`` type.
        augment: what is done to the clean speech (default: nothing).
        music: music recordings, needed for the ``music`` type.
    """

    def __init__(
        self,
        utterances: Sequence[np.ndarray],
        mix: NoiseMix = NoiseMix(),
        stft: StftConfig = StftConfig(),
        recordings: Sequence[np.ndarray] = (),
        augment: SpeechAugmentation = SpeechAugmentation(),
        music: Sequence[np.ndarray] = (),
    ) -> None:
        if not utterances:
            raise ValueError("no utterances to draw from")
        self.utterances, self.mix, self.stft, self.recordings = list(utterances), mix, stft, list(recordings)
        self.augment, self.music = augment, list(music)
        lengths = np.array([len(u) for u in self.utterances], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def clean_segment(self, rng: np.random.Generator, length: int | None = None) -> np.ndarray:
        """A random non-silent segment of speech (short utterances are zero-padded at a random offset)."""
        n = length or self.stft.segment_samples
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

    def _speech(self, rng: np.random.Generator) -> np.ndarray:
        """A clean segment after speed perturbation and room (its room onset falls before the segment)."""
        aug, n, rate = self.augment, self.stft.segment_samples, self.stft.sample_rate
        if not (aug.speed or aug.reverb or aug.formant):
            return self.clean_segment(rng)
        preroll = rate // 4
        factor = rng.uniform(*aug.speed_range) if rng.random() < aug.speed else 1.0
        speech = self.clean_segment(rng, int(np.ceil((n + preroll) * factor)) + 1)
        if factor != 1.0:
            speech = augment.speed(speech, factor)
        if aug.formant and rng.random() < aug.formant:  # no draw when off: earlier runs resume on the same stream
            speech = augment.formant_shift(speech, rate, rng.uniform(*aug.formant_range))
        if rng.random() < aug.reverb:
            speech = augment.reverberate(speech, augment.synthetic_rir(rng.uniform(*aug.rt60_s), rate, rng))
        speech = speech[preroll : preroll + n]
        return speech if rms(speech) > 0 else self.clean_segment(rng)

    def _noise(self, rng: np.random.Generator, length: int, kind: str | None) -> np.ndarray:
        def draw(k: str) -> np.ndarray:
            return make_noise(k, length, rng, self.stft.sample_rate, self.utterances, self.recordings, music=self.music)

        chosen = kind or self.mix.types[rng.integers(len(self.mix.types))]
        noise = draw(chosen)
        if kind is None and rng.random() < self.mix.second_noise:
            noise = noise + 10 ** (rng.uniform(-10, 0) / 20) * draw(self.mix.types[rng.integers(len(self.mix.types))])
        return noise

    def pair(self, rng: np.random.Generator, kind: str | None = None, snr_db: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` waveform pair of a segment's length."""
        aug, rate = self.augment, self.stft.sample_rate
        clean = self._speech(rng)
        snr = snr_db if snr_db is not None else rng.uniform(*self.mix.snr_db)
        if snr_db is None and self.mix.clean_fraction and rng.random() < self.mix.clean_fraction:  # no draw when off
            snr = rng.uniform(*CLEAN_SNR_DB)
        noisy = mix_at_snr(clean, self._noise(rng, len(clean), kind), snr)
        gain = 10 ** (rng.uniform(*self.mix.gain_db) / 20) / max(np.abs(clean).max(), 1e-6) * 0.5
        gain = min(gain, 0.99 / max(np.abs(noisy).max(), 1e-6))
        noisy, clean = noisy * gain, clean * gain
        for chance, make_sos in ((aug.eq, augment.random_eq_sos), (aug.band_limit, augment.random_band_limit_sos)):
            if rng.random() < chance:
                sos = make_sos(rng, rate)
                noisy, clean = augment.apply_sos(noisy, sos), augment.apply_sos(clean, sos)
        if rng.random() < aug.codec:
            codec = augment.CODECS[rng.integers(len(augment.CODECS))]
            noisy, clean = augment.codec_round_trip(noisy, rate, codec), augment.codec_round_trip(clean, rate, codec)
        return noisy.astype(np.float32), clean.astype(np.float32)

    def waveforms(self, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms ``(noisy, clean)``, each ``[size, samples]``."""
        noisy, clean = map(np.stack, zip(*(self.pair(rng) for _ in range(size)), strict=True))
        return torch.from_numpy(noisy), torch.from_numpy(clean)
