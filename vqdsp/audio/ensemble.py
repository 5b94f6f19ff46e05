"""A second model's gain averaged with the model's in the low band: an ensemble where both models see.

The 16 kHz ``wideband`` model covers the band to 8 kHz with 30.8 Hz bins; the 8 kHz ``default``
sees only the band to 4 kHz, with 15.4 Hz bins and three times the training steps. Below 3.4 kHz
their log-gains averaged beat either alone on held-out full-band voices at 48 kHz (README model
card, *The low-band partner*); above 3.8 kHz the model's own gain (and its high-band stage) stays.
Averaging log-gains is averaging the two models' decisions in dB, bin by bin: where one hears noise
and the other speech, the bin is attenuated half as far.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from vqdsp.audio.transforms import RateTransforms, gain_map_onto

if TYPE_CHECKING:
    from vqdsp.audio.denoiser import Denoiser

CROSSOVER_HZ = (3400.0, 3800.0)
"""The partner's share falls linearly from ``weight`` to 0 across this band (Hz); below it the average
holds, above it the model's gain alone (the 8 kHz partner's own stage starts at 3.8 kHz)."""
PARTNER_WEIGHT = 0.5
"""The partner's share of the log-gain below the crossover."""
MIN_SAMPLE_RATE = 16000
"""The partner joins from this audio rate up (where it was measured: 16 and 48 kHz)."""


class PartnerError(ValueError):
    """A partner that cannot join this model: its segments do not line up with the model's."""


@dataclass
class LowBandPartner:
    """A second model (``denoiser``) whose log-gain is averaged with the model's below :data:`CROSSOVER_HZ`.

    Args:
        denoiser: the partner, a segment denoiser of its own rate; its high-band stage is not used.
        weight: its share below the crossover (0.5: the plain average).
        crossover_hz: where its share falls to 0, linearly, in Hz.
        min_sample_rate: the lowest audio rate it joins at, in Hz.
    """

    denoiser: Denoiser
    weight: float = PARTNER_WEIGHT
    crossover_hz: tuple[float, float] = CROSSOVER_HZ
    min_sample_rate: int = MIN_SAMPLE_RATE

    def __post_init__(self) -> None:
        lo, hi = self.crossover_hz
        if not 0 < self.weight <= 1 or not 0 < lo < hi:
            raise ValueError(f"a partner needs a weight in (0, 1] and a crossover 0 < lo < hi, got {self.weight}, {self.crossover_hz}")

    def check_fits(self, model: Denoiser) -> None:
        """Refuse a partner whose segments (and so its stream's latency) differ from ``model``'s, in seconds."""
        model_rate = model.model_stft.sample_rate
        own, model_segment = self.denoiser.segment_length(model_rate), model.segment_length(model_rate)
        if own != model_segment:
            raise PartnerError(
                f"the partner's segments ({own[0]} samples, overlap {own[1]}, at {model_rate} Hz) are not the model's "
                f"({model_segment[0]}, overlap {model_segment[1]}): an ensemble needs both on the same one-second grid"
            )

    def joins_at(self, sample_rate: int) -> bool:
        return sample_rate >= self.min_sample_rate

    def blend(self, log_gain: np.ndarray, segments: np.ndarray, sample_rate: int, grid: RateTransforms) -> np.ndarray:
        """Average the partner's log-gain for ``segments [N, samples]`` into ``log_gain [N, F', T']`` (the model's,
        on ``grid``'s audio grid) below the crossover, in place; returns it."""
        partner = self.denoiser
        mapped = gain_map_onto(partner.model_stft, grid).map_gain(partner.resampled_log_gains(segments, sample_rate))
        share = _share(grid.audio_fft, grid.sample_rate, self.crossover_hz, self.weight)
        bins = len(share)
        low = log_gain[..., :bins, :]
        low += share * (mapped[..., :bins, :] - low)
        return log_gain


@lru_cache(maxsize=16)
def _share(fft: int, sample_rate: int, crossover_hz: tuple[float, float], weight: float) -> np.ndarray:
    """The partner's share per bin ``[bins, 1]``, the bins up to the crossover's top."""
    freqs = np.fft.rfftfreq(fft, 1 / sample_rate)
    lo, hi = crossover_hz
    share = weight * np.clip((hi - freqs) / (hi - lo), 0, 1)
    bins = int(np.count_nonzero(freqs < hi))
    return share[:bins, None].astype(np.float32)
