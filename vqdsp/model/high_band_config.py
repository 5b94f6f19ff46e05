"""The high-band stage's config: its sizes and the model transform it was trained with, checked as loaded.

Apart from :mod:`vqdsp.model.high_band` (which imports torch) so that the CLI checks its options with it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from vqdsp.checks import BadValue, real, whole
from vqdsp.model.config import MAX_ATTENUATION_DB, MAX_CHANNELS, MAX_SAMPLE_RATE, StftConfig

MAX_BANDS = 256  # bands above or below the split
MAX_KERNEL = 255  # frames one convolution sees
MAX_LAYERS = 64  # convolutions before the output layer
MAX_WEIGHTS = 10**8  # in all (the shipped stages have about 10^4)


@dataclass(frozen=True)
class HighBandConfig:
    """Sizes of the high-band stage and the 8 kHz model transform it was trained with.

    Args:
        model_stft: the transform of the model whose gain the stage reads.
        crossover: where the stage takes over, as a fraction of the model's Nyquist (the split:
            3.8 kHz for 0.95 at 8 kHz). The model's last bins, at the edge of the anti-aliasing
            filter of its training speech, are barely trained and cut a notch at its Nyquist; the
            stage's gains replace them.
        bands: ERB-spaced bands between the split and ``top_hz``, each with its own gain.
        low_bands: ERB-spaced bands below the split that the inputs are pooled into.
        top_hz: upper edge of the learned bands; above it the top band's gain is held.
        channels: width of the temporal convolutions.
        kernel: frames seen by each convolution (odd).
        layers: convolutions before the output layer.
        max_attenuation_db: the deepest gain the stage gives.
    """

    model_stft: StftConfig = field(default_factory=StftConfig)
    crossover: float = 0.95
    bands: int = 8
    low_bands: int = 8
    top_hz: float = 8000.0
    channels: int = 32
    kernel: int = 5
    layers: int = 3
    max_attenuation_db: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.model_stft, StftConfig):
            raise BadValue("model_stft", self.model_stft, "an object of STFT settings")
        for name, high in (("bands", MAX_BANDS), ("low_bands", MAX_BANDS), ("channels", MAX_CHANNELS), ("kernel", MAX_KERNEL),
                           ("layers", MAX_LAYERS)):
            whole(getattr(self, name), name, 1, high)
        if self.kernel % 2 == 0:
            raise BadValue("kernel", self.kernel, "odd (frames centred on each frame)")
        weights = self.layers * self.channels * max(self.channels, self.inputs) * self.kernel
        if weights > MAX_WEIGHTS:
            raise BadValue("channels", self.channels, f"smaller: {self.layers} layers of {self.channels} channels x {self.kernel} "
                           f"frames make {weights:.3g} weights, more than the {MAX_WEIGHTS:.0e} a stage may have")
        real(self.crossover, "crossover", 0.5, 1.0)
        real(self.top_hz, "top_hz", self.split_hz, MAX_SAMPLE_RATE / 2, low_open=True)
        real(self.max_attenuation_db, "max_attenuation_db", 0.0, MAX_ATTENUATION_DB, low_open=True)

    @property
    def split_hz(self) -> float:
        """Below this the model's own gain is used, above it the stage's."""
        return self.crossover * self.model_stft.sample_rate / 2

    @property
    def min_sample_rate(self) -> int:
        """Audio below this rate keeps the old rule: its band above the split does not reach ``top_hz``."""
        return math.ceil(2 * self.top_hz)

    @property
    def inputs(self) -> int:
        return 2 * self.low_bands + self.bands

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> HighBandConfig:
        if not isinstance(data, dict):
            raise ValueError(f"a high-band config is a JSON object, got {type(data).__name__}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown high-band config keys {sorted(unknown)}")
        values = dict(data)
        if "model_stft" in values:
            if not isinstance(values["model_stft"], dict):
                raise BadValue("model_stft", values["model_stft"], "an object of STFT settings")
            values["model_stft"] = StftConfig(**values["model_stft"])
        return cls(**values)
