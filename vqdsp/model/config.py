"""Configuration dataclasses, saved as JSON beside the weights."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


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
        if not 0 <= self.noverlap < self.nperseg:
            raise ValueError(f"noverlap must be in [0, nperseg), got {self.noverlap} with nperseg {self.nperseg}")
        if not 0 <= self.segment_overlap < self.segment_samples // 2:
            raise ValueError("segment_overlap must be in [0, segment_samples / 2)")
        if self.log_floor <= 0:
            raise ValueError("log_floor must be positive")

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

    channels: tuple[int, ...] = (16, 32, 64, 96)
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
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.channels) < 2 or min(self.channels) < 1:
            raise ValueError(f"channels needs two or more positive entries, got {self.channels}")
        if self.codebook_size < 1 or self.se_reduction < 1:
            raise ValueError("codebook_size and se_reduction must be >= 1")
        if not 0 <= self.ema_decay < 1:
            raise ValueError("ema_decay must be in [0, 1)")
        if self.stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride must be 1, 2 or 4, got {self.stem_stride}")
        if self.upsampling not in ("nearest", "transposed"):
            raise ValueError(f"upsampling must be 'nearest' or 'transposed', got {self.upsampling!r}")
        if isinstance(self.stft, dict):
            object.__setattr__(self, "stft", StftConfig(**self.stft))

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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}: is this a vqdsp config?")
        return cls(**{**FIRST_MODEL_ARCHITECTURE, **data})


FIRST_MODEL_ARCHITECTURE = {"stem_stride": 1, "separable": False, "upsampling": "transposed"}
"""Architecture keys that configs saved before they existed (vqdsp 0.1) leave out: their values then."""
