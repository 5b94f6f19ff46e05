"""Configuration dataclasses, saved as JSON beside the weights."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from vqdsp.checks import BadValue, real, whole

SEED_HOP = 31  # the seed's hop at 8 kHz (519 - 488), in samples


@dataclass(frozen=True)
class StftConfig:
    """The seed's transform: at 8 kHz one second (8000 samples) is a 260 x 260 spectrogram.

    Args:
        sample_rate: rate the model works at, in Hz.
        nperseg: STFT window length in samples (``scipy.signal.stft``'s ``nperseg``).
        noverlap: overlap between windows in samples.
        window: window name understood by ``scipy.signal.get_window``.
        segment_samples: model-sized segment, in samples at ``sample_rate``.
        segment_overlap: samples shared by consecutive segments (the cross-fade lies inside).
        log_floor: added to magnitudes before the log, so silence stays finite.
    """

    sample_rate: int = 8000
    nperseg: int = 519
    noverlap: int = 488
    window: str = "hann"
    segment_samples: int = 8000
    segment_overlap: int = 2000
    log_floor: float = 1e-6

    def __post_init__(self) -> None:
        check_stft_values(self)
        if not 0 <= self.noverlap < self.nperseg:
            raise ValueError(f"noverlap must be in [0, nperseg), got {self.noverlap} with nperseg {self.nperseg}")
        if not 0 <= self.segment_overlap < self.segment_samples // 2:
            raise ValueError("segment_overlap must be in [0, segment_samples / 2)")
        if self.log_floor <= 0:
            raise ValueError("log_floor must be positive")
        check_window(self.window, self.nperseg)

    @classmethod
    def seed_grid(cls, sample_rate: int = 8000, nperseg: int = 519) -> StftConfig:
        """The seed's grid at a model rate that is a multiple of 8 kHz: 31 samples of hop per 8 kHz, 1 s segments.

        At 8 kHz that is the seed's transform; at 16 kHz nperseg 519 and noverlap 457 (hop 62) keep one
        second a 260 x 260 spectrogram (32 ms window, 30.8 Hz bins), so the same network costs the same
        per second. A longer ``nperseg`` (e.g. 1039 at 16 kHz: 65 ms, 520 bins) keeps the hop.
        """
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0 or sample_rate % 8000:
            raise ValueError(f"a model rate must be a multiple of 8000 Hz, got {sample_rate!r}")
        hop = SEED_HOP * sample_rate // 8000
        if isinstance(nperseg, bool) or not isinstance(nperseg, int) or nperseg <= hop:
            raise ValueError(f"nperseg must be an integer above the hop ({hop} samples at {sample_rate} Hz), got {nperseg!r}")
        return cls(sample_rate=sample_rate, nperseg=nperseg, noverlap=nperseg - hop, segment_samples=sample_rate, segment_overlap=sample_rate // 4)

    @property
    def hop(self) -> int:
        return self.nperseg - self.noverlap

    @property
    def n_freqs(self) -> int:
        return self.nperseg // 2 + 1


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the SE-U-Net with a VQ bottleneck.

    Args:
        channels: feature channels per U-Net level, from full resolution down to the bottleneck;
            each level after the first halves both spectrogram axes. The last entry is the
            codebook dimension D.
        se_reduction: reduction ratio r of every Squeeze-and-Excitation block (hidden = C / r).
        codebook_size: number of codes K in the bottleneck's vector quantizer.
        commitment: beta, weight of the commitment term of the VQ-VAE loss.
        ema_decay: decay of the EMA codebook updates; 0 learns the codebook by gradient instead.
        dead_code_threshold: codes whose EMA usage falls below this are restarted from the batch.
        max_attenuation_db: deepest suppression the model can express (its gain floor).
        stem_stride: the first stage downsamples both spectrogram axes by this; the gain is
            predicted on that coarser grid and interpolated back (1: full resolution throughout).
        separable: stages and downsamplings use depthwise 3x3 + pointwise 1x1 convolutions
            (with a residual connection where the shape allows) instead of full 3x3 convolutions;
            the bottleneck stage stays a full 3x3 convolution.
        upsampling: ``"nearest"`` (1x1 convolution at the coarse level, then nearest-neighbour
            upsampling: a quarter of the cost) or ``"transposed"`` (2x2 transposed convolution).
        stft: the spectrogram the model is trained on.
    """

    channels: tuple[int, ...] = (16, 32, 72, 112)
    se_reduction: int = 4
    codebook_size: int = 256
    commitment: float = 0.25
    ema_decay: float = 0.99
    dead_code_threshold: float = 1.0
    max_attenuation_db: float = 60.0
    stem_stride: int = 2
    separable: bool = True
    upsampling: str = "nearest"
    stft: StftConfig = field(default_factory=StftConfig)

    def __post_init__(self) -> None:
        check_model_values(self)
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not 0 <= self.ema_decay < 1:  # check_model_values allows 1; an EMA that never moves is no codebook
            raise ValueError("ema_decay must be in [0, 1)")
        if isinstance(self.stft, dict):
            object.__setattr__(self, "stft", StftConfig(**self.stft))
        stft = self.stft
        if stft.segment_samples < stft.nperseg:
            raise BadValue("stft.segment_samples", stft.segment_samples,
                           f"at least stft.nperseg ({stft.nperseg}): a model segment holds whole analysis windows")
        if stft.segment_samples // stft.hop < self.downsampling:
            raise BadValue("stft.segment_samples", self.stft.segment_samples,
                           f"at least {self.downsampling * self.stft.hop} ({self.downsampling} frames of hop {self.stft.hop}: "
                           "the U-Net halves the spectrogram that often)")

    @property
    def codebook_dim(self) -> int:
        return self.channels[-1]

    @property
    def downsampling(self) -> int:
        """How many times smaller the bottleneck is than the input, on each axis."""
        return self.stem_stride * 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        if not isinstance(data, dict):
            raise ValueError(f"a model config is a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}: is this a vqdsp config?")
        return cls(**{**FIRST_MODEL_ARCHITECTURE, **data})


FIRST_MODEL_ARCHITECTURE = {"stem_stride": 1, "separable": False, "upsampling": "transposed"}
"""Architecture keys that configs saved before they existed (vqdsp 0.1) leave out: their values then."""


# ---- validation: types and sane ranges, checked before anything is allocated -------------------------
# A config comes from a file a user may have edited or been sent: every value is checked here, so that a
# bad one is a clear error at load time rather than a NaN output, a huge allocation or a crash later.

MAX_CHANNELS = 4096  # feature channels of one U-Net level
MAX_LEVELS = 8  # U-Net levels (spectrogram axes downsampled by up to 2^7)
MAX_CODEBOOK_SIZE = 1 << 16  # codes K of the bottleneck
MAX_SAMPLE_RATE = 768_000  # Hz
MAX_NPERSEG = 1 << 16  # STFT window, samples
MAX_SEGMENT_SAMPLES = 1 << 24  # model segment, samples
MAX_ATTENUATION_DB = 200.0  # deeper than any float32 spectrum can show


def _integer(value: Any, name: str, low: int, high: int) -> None:
    whole(value, name, low, high)


def _real(value: Any, name: str, low: float, high: float, low_open: bool = False) -> None:
    real(value, name, low, high, low_open=low_open)


def check_model_values(cfg: ModelConfig) -> None:
    """Raise ValueError naming the first field of ``cfg`` with a wrong type or an insane size."""
    channels = cfg.channels
    if isinstance(channels, (str, bytes)) or not isinstance(channels, (list, tuple)):
        raise ValueError(f"channels must be a list of integers, got {channels!r}")
    if not 2 <= len(channels) <= MAX_LEVELS:
        raise ValueError(f"channels needs 2 to {MAX_LEVELS} entries (one per U-Net level), got {len(channels)}")
    for i, c in enumerate(channels):
        _integer(c, f"channels[{i}]", 1, MAX_CHANNELS)
    _integer(cfg.se_reduction, "se_reduction", 1, MAX_CHANNELS)
    _integer(cfg.codebook_size, "codebook_size", 1, MAX_CODEBOOK_SIZE)
    _real(cfg.commitment, "commitment", 0.0, 1e6)
    _real(cfg.ema_decay, "ema_decay", 0.0, 1.0)
    _real(cfg.dead_code_threshold, "dead_code_threshold", 0.0, 1e12)
    _real(cfg.max_attenuation_db, "max_attenuation_db", 0.0, MAX_ATTENUATION_DB, low_open=True)
    if isinstance(cfg.stem_stride, bool) or cfg.stem_stride not in (1, 2, 4):
        raise ValueError(f"stem_stride must be 1, 2 or 4, got {cfg.stem_stride!r}")
    if not isinstance(cfg.separable, bool):
        raise ValueError(f"separable must be true or false, got {cfg.separable!r}")
    if cfg.upsampling not in ("nearest", "transposed"):
        raise ValueError(f"upsampling must be 'nearest' or 'transposed', got {cfg.upsampling!r}")
    if not isinstance(cfg.stft, (StftConfig, dict)):
        raise ValueError(f"stft must be an object of STFT settings, got {cfg.stft!r}")
    if isinstance(cfg.stft, dict):
        unknown = set(cfg.stft) - {f.name for f in dataclasses.fields(StftConfig)}
        if unknown:
            raise ValueError(f"unknown stft config keys {sorted(unknown)}: is this a vqdsp config?")


def check_stft_values(cfg: StftConfig) -> None:
    """Raise ValueError naming the first field of ``cfg`` with a wrong type or an insane size."""
    _integer(cfg.sample_rate, "stft.sample_rate", 1, MAX_SAMPLE_RATE)
    _integer(cfg.nperseg, "stft.nperseg", 2, MAX_NPERSEG)
    _integer(cfg.noverlap, "stft.noverlap", 0, MAX_NPERSEG)
    _integer(cfg.segment_samples, "stft.segment_samples", 1, MAX_SEGMENT_SAMPLES)
    _integer(cfg.segment_overlap, "stft.segment_overlap", 0, MAX_SEGMENT_SAMPLES)
    _real(cfg.log_floor, "stft.log_floor", 0.0, 1.0, low_open=True)


KNOWN_WINDOWS = ("hann", "hamming", "blackman", "boxcar")  # checked without importing scipy (the CLI's --help stays light)


def check_window(window: Any, nperseg: int) -> None:
    """Raise :class:`BadValue` unless ``window`` is a window name ``scipy.signal.get_window`` makes."""
    if window in KNOWN_WINDOWS:
        return
    expected = "a window name of scipy.signal.get_window, e.g. 'hann'"
    if not isinstance(window, str) or not window:
        raise BadValue("stft.window", window, expected)
    from scipy.signal import get_window

    try:
        get_window(window, nperseg)
    except (ValueError, TypeError) as err:
        raise BadValue("stft.window", window, expected) from err
