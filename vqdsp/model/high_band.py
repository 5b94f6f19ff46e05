"""The high-band stage: learned gains from about the model's Nyquist up, for audio with a band above it.

A model sees nothing above its Nyquist (4 kHz for the 8 kHz ``default``, 8 kHz for ``wideband``). For
wider-band audio this stage predicts, per STFT frame of the audio at its own rate, a gain for each of
``bands`` ERB-spaced bands between the split (just under the model's Nyquist) and ``top_hz`` (8 kHz for
``default``'s stage, which runs from 16 kHz audio up; 20 kHz for ``wideband``'s, trained on full-band
speech, which runs from 40 kHz up). Its inputs are the band log-powers of the
noisy audio (below and above the split) and the model's log-gain pooled into the low bands: what the model decided
about the speech tells the stage where speech is, and the high band's own energies tell it how
much noise lies there. It learns a correction to the old rule (the model's gain from half its
Nyquist up, held up to the audio's Nyquist), which it starts from.

Above ``top_hz`` nothing is learned (``default``'s stage: its G.722 training prompts stop at 8 kHz):
the top band's gain is held up to Nyquist, but never more open than the old rule's gain. Speech
energy above 8 kHz (fricatives, breath) comes with energy at 6-8 kHz, so the top opens where the
stage and the model both find speech and is attenuated as one elsewhere. Audio at the model's rate
(and audio at less than 2 x ``top_hz``) is not touched.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from vqdsp.atomic import atomic_write
from vqdsp.model.checkpoint import FLOAT_DTYPES, read_config
from vqdsp.model.config import StftConfig
from vqdsp.model.high_band_config import HighBandConfig as HighBandConfig  # re-exported: the stage and its config go together

HIGH_BAND_FORMAT = "vqdsp-high-band/1"
MODELS_DIR = Path(__file__).parents[1] / "models"
SHIPPED_HIGH_BAND = MODELS_DIR / "high_band.safetensors"
BASELINE_FROM = 0.5  # the old rule: the model's gain from this fraction of its Nyquist up, averaged
MAX_WEIGHT = 1e4  # no trained stage comes near: larger weights are a broken file (and overflow float32 at run time)


class HighBandError(ValueError):
    """A file that is not a vqdsp high-band stage, or one that does not fit its config or the model."""


def erb_edges(low_hz: float, high_hz: float, count: int) -> np.ndarray:
    """``count + 1`` band edges in Hz, equally spaced on the ERB-rate scale (Glasberg & Moore)."""
    low, high = 21.4 * np.log10(1 + 0.00437 * np.array([low_hz, high_hz]))
    erb = np.linspace(low, high, count + 1)
    return (10 ** (erb / 21.4) - 1) / 0.00437


@dataclass(frozen=True)
class BandLayout:
    """Where the stage's bands fall on one audio STFT (see :func:`band_layout`).

    Attributes:
        split: first bin above the split frequency: the stage sets bins ``split:``.
        used: bins ``:used`` (up to ``top_hz``) are all the inputs are pooled from.
        low_pool: ``[low_bands, used]`` averaging matrix of the bins below the split.
        high_pool: ``[bands, used]`` averaging matrix of the bins from the split to ``top_hz``.
        baseline_pool: ``[used]`` averaging weights of the old rule's bins (the model's upper half).
        spread: ``[F - split, bands]`` band gain -> bin gain: linear between band centres, flat
            outside them (so the top band's gain is held above ``top_hz``, bins ``used:``).

    The matrices are float32 tensors: their products run in torch, on the caller's torch threads
    (numpy's BLAS would start its own threads for them, 3x slower on a busy machine).
    """

    split: int
    used: int
    low_pool: torch.Tensor
    high_pool: torch.Tensor
    baseline_pool: torch.Tensor
    spread: torch.Tensor


@lru_cache(maxsize=16)
def band_layout(config: HighBandConfig, audio: StftConfig) -> BandLayout:
    """The stage's pooling and spreading matrices for spectrograms of ``audio``'s transform."""
    if audio.sample_rate < config.min_sample_rate:
        raise ValueError(f"the high-band stage needs audio at {config.min_sample_rate} Hz or more, got {audio.sample_rate}")
    freqs = np.fft.rfftfreq(audio.nperseg, 1 / audio.sample_rate)
    split, used = int(np.searchsorted(freqs, config.split_hz, side="right")), int(np.searchsorted(freqs, config.top_hz, side="right"))
    freqs_used = freqs[:used]

    def pool(edges: np.ndarray, inside: np.ndarray) -> np.ndarray:
        matrix = np.zeros((len(edges) - 1, used), np.float32)
        for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            members = inside & (freqs_used >= lo) & ((freqs_used < hi) if b < len(edges) - 2 else (freqs_used <= hi))
            if not members.any():  # narrower than a bin: the nearest bin stands for it
                members = np.zeros_like(inside)
                members[np.argmin(np.abs(freqs_used - (lo + hi) / 2))] = True
            matrix[b, members] = 1 / members.sum()
        return matrix

    below = np.arange(used) < split
    low_edges = erb_edges(0.0, config.split_hz, config.low_bands)
    high_edges = erb_edges(config.split_hz, config.top_hz, config.bands)
    nyquist = config.model_stft.sample_rate / 2
    model_top = np.fft.rfftfreq(config.model_stft.nperseg, 1 / config.model_stft.sample_rate)[-1]
    base = (freqs_used >= BASELINE_FROM * nyquist) & (freqs_used <= model_top)  # the old rule's bins: the model's upper half
    centres = (high_edges[:-1] + high_edges[1:]) / 2
    spread = np.stack([np.interp(freqs[split:], centres, np.eye(config.bands)[b]) for b in range(config.bands)], axis=1)
    matrices = (pool(low_edges, below), pool(high_edges, ~below), (base / base.sum()).astype(np.float32), spread.astype(np.float32))
    with torch.inference_mode(False):  # cached: a layout first made at inference must still serve training
        return BandLayout(split, used, *(torch.from_numpy(m).clone() for m in matrices))


LOG_POWER_FLOOR = 1e-12


def stage_inputs(power: torch.Tensor, log_gain: torch.Tensor, layout: BandLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """The stage's inputs for one or more spectrograms: ``(features [..., C, T], baseline [..., T])``.

    Args:
        power: ``|STFT|^2`` of the noisy audio at its own rate, ``[..., F, T]`` (bins ``:layout.used`` suffice).
        log_gain: the model's log-gain mapped onto the same grid, ``[..., F, T]`` (bins above the split are ignored).
        layout: from :func:`band_layout` for this transform.

    Band log-powers are taken relative to the mean low-band log-power of the spectrogram, so the
    stage does not depend on the recording's level.
    """
    power, log_gain = power[..., : layout.used, :], log_gain[..., : layout.used, :]
    low = torch.log(layout.low_pool @ power + LOG_POWER_FLOOR)
    high = torch.log(layout.high_pool @ power + LOG_POWER_FLOOR)
    level = low.mean(dim=(-2, -1), keepdim=True)
    gain = layout.low_pool @ log_gain
    baseline = layout.baseline_pool @ log_gain
    return torch.cat([low - level, high - level, gain], dim=-2), baseline


class HighBandNet(nn.Module):
    """Band log-gains above the split from :func:`stage_inputs`: temporal convolutions, a correction to the baseline."""

    def __init__(self, config: HighBandConfig = HighBandConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.inputs
        for _ in range(config.layers):
            layers += [nn.Conv1d(width, config.channels, config.kernel, padding=config.kernel // 2), nn.ReLU()]
            width = config.channels
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv1d(width, config.bands, 1)
        nn.init.zeros_(self.out.weight)  # starts as the old rule
        nn.init.zeros_(cast(torch.Tensor, self.out.bias))

    def forward(self, features: torch.Tensor, baseline: torch.Tensor) -> torch.Tensor:
        """``features [B, C, T]``, ``baseline [B, T]`` -> band log-gains ``[B, bands, T]`` (natural log, <= 0)."""
        floor = -self.config.max_attenuation_db * math.log(10) / 20
        return (baseline.unsqueeze(1) + self.out(self.body(features))).clamp(floor, 0.0)

    @torch.inference_mode()
    def set_log_gain(
        self, spec: np.ndarray, log_gain: np.ndarray, audio: StftConfig, floor: float = -math.inf,
        frames: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> np.ndarray:
        """Set the bins above the split of ``log_gain [..., F, T]`` (the model's, mapped onto the grid of
        ``spec [..., F, T]``, the noisy STFT at ``audio``'s rate) to the stage's gains, in place; returns it.

        ``floor``: the deepest log-gain allowed (an attenuation limit). ``frames``: ``(to_model [T, T_model],
        to_audio [T_model, T])`` time maps, where ``spec``'s frames are not the model's: the stage runs on the
        model's frame times, which it was trained on (see :attr:`~vqdsp.audio.transforms.RateTransforms.stage_frames`).
        """
        layout = band_layout(self.config, audio)
        used = spec[..., : layout.used, :]
        features, baseline = stage_inputs(torch.from_numpy(used.real**2 + used.imag**2), torch.from_numpy(log_gain), layout)
        inputs = (features, baseline) if frames is None else (features @ frames[0], baseline @ frames[0])
        device = next(self.parameters()).device
        lead, time = features.shape[:-2], inputs[0].shape[-1]
        bands = self(inputs[0].reshape(-1, features.shape[-2], time).to(device), inputs[1].reshape(-1, time).to(device))
        bands = bands.float().cpu().reshape(*lead, -1, time)
        if frames is not None:
            bands = bands @ frames[1]
        log_gain[..., layout.split :, :] = (layout.spread @ bands).clamp_min(floor).numpy()
        above = log_gain[..., layout.used :, :]
        np.minimum(above, baseline.numpy()[..., None, :], out=above)  # above top_hz: never more open than the old rule
        return log_gain


def save_high_band(net: HighBandNet, path: str | os.PathLike, trained_with: str = "") -> Path:
    """Write the stage to ``path`` (.safetensors) and its config to the .json beside it.

    ``trained_with``: the model whose gains it was trained on, kept in the file's metadata.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"high-band files end in .safetensors, got {path}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    metadata = {"format": HIGH_BAND_FORMAT, "config": net.config.to_json(), "trained_with": trained_with}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    atomic_write(path.with_suffix(".json"), lambda tmp: tmp.write_text(net.config.to_json() + "\n"))
    return path


SHIPPED_HIGH_BANDS = (SHIPPED_HIGH_BAND, MODELS_DIR / "high_band_wideband.safetensors")
"""The stages that ship: one for the 8 kHz ``default`` model's transform, one for the 16 kHz ``wideband``'s."""


def shipped_high_band_for(model_stft: StftConfig) -> HighBandNet | None:
    """The shipped stage trained for models of ``model_stft`` (loaded), or None where none ships."""
    for path in SHIPPED_HIGH_BANDS:
        if path.is_file() and _shipped_stft(path) == model_stft:
            return load_high_band(path, model_stft)
    return None


@lru_cache(maxsize=4)
def _shipped_stft(path: Path) -> StftConfig:
    return read_config(path.with_suffix(".json"), HighBandConfig.from_dict, "high-band config", HighBandError).model_stft


def load_high_band(path: str | os.PathLike | None = None, model_stft: StftConfig | None = None) -> HighBandNet:
    """Load a stage saved by :func:`save_high_band` (None: the shipped one), in eval mode.

    ``model_stft``: the transform of the model it will run with; a stage trained for another raises
    :class:`HighBandError`, as does a file that is missing, not a stage, or does not fit its config.
    """
    path = SHIPPED_HIGH_BAND if path is None else Path(path)
    cfg_file = path.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"no high-band stage at {path} (to run without one: high_band=None, or --high-band none)")
    if not cfg_file.is_file():
        raise HighBandError(f"no config {cfg_file.name} beside {path}: a high-band stage comes as a .safetensors + .json pair")
    config = read_config(cfg_file, HighBandConfig.from_dict, "high-band config", HighBandError)
    if model_stft is not None and config.model_stft != model_stft:
        raise HighBandError(
            f"{path} was trained for a model with transform {config.model_stft}, this model has {model_stft}; "
            "train a high-band stage for it (vqdsp train-high-band) or pass high_band=None"
        )
    with torch.device("meta"):  # the shapes the config needs, with no memory: a config that disagrees is refused first
        expected = {k: tuple(v.shape) for k, v in HighBandNet(config).state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("format") != HIGH_BAND_FORMAT:
                raise HighBandError(f"{path} is not a vqdsp high-band stage (format {HIGH_BAND_FORMAT!r} missing)")
            found = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
            for name in f.keys():  # from the header: a stage's weights are all float; an int or bool one is no stage
                if (dtype := f.get_slice(name).get_dtype()) not in FLOAT_DTYPES:
                    raise HighBandError(f"{path}: {name} is stored as {dtype}, expected a float dtype (F32, F16, BF16, F64)")
        if found != expected:
            wrong = sorted(set(found) ^ set(expected)) or sorted(k for k in expected if found[k] != expected[k])
            raise HighBandError(f"{path} does not match its config {cfg_file.name}: {', '.join(wrong[:5])} differ")
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise HighBandError(f"{path} is not a readable safetensors file: {err}") from err
    net = HighBandNet(config)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise HighBandError(f"{path} does not match its config {cfg_file.name}: {err}") from err
    if not all(torch.isfinite(t).all() for t in state.values()):
        raise HighBandError(f"{path} holds NaN or Inf weights; retrain or re-export it")
    largest = max((float(t.abs().max()) for t in state.values() if t.numel()), default=0.0)
    if largest > MAX_WEIGHT:
        raise HighBandError(f"{path} holds a weight of magnitude {largest:.3g} (a trained stage stays below {MAX_WEIGHT:g}): "
                            "the file is broken; retrain or re-export it")
    return net.eval()
