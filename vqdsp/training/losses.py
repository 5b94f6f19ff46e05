"""The training loss: the seed's MSE + L1 + VQ terms, plus terms that keep speech intelligible.

The seed's terms compare log-magnitudes; they weigh removed speech and left-over noise alike. The
extra terms look at what a listener gets: the waveform rebuilt with the noisy phase (SI-SDR), a
multi-resolution STFT distance of that waveform, and an extra price on suppressing speech
(log-magnitude below the clean one), which is what costs intelligibility under babble and music.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from vqdsp.model.config import StftConfig
from vqdsp.model.unet import Denoised


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (0 turns a term off).

    Args:
        mse: the seed's MSE on the log-magnitude.
        l1: the seed's L1 on the log-magnitude.
        vq: the quantization loss.
        dynamic_range_db: log-magnitudes this far below the clean peak are floored on both sides.
        si_sdr: negative SI-SDR (dB) of the waveform rebuilt with the noisy phase.
        multi_resolution: multi-resolution STFT loss (spectral convergence + log-magnitude L1)
            of that waveform at 128/256/512-sample windows.
        speech_suppression: extra L1 weight where the estimate falls below the clean log-magnitude
            (speech removed) rather than above it (noise left).
    """

    mse: float = 1.0
    l1: float = 1.0
    vq: float = 1.0
    dynamic_range_db: float = 80.0
    si_sdr: float = 0.0
    multi_resolution: float = 0.0
    speech_suppression: float = 0.0

    @property
    def needs_waveform(self) -> bool:
        return self.si_sdr > 0 or self.multi_resolution > 0


@lru_cache(maxsize=8)
def _window(cfg: StftConfig, device: str) -> torch.Tensor:
    import scipy.signal

    return torch.from_numpy(scipy.signal.get_window(cfg.window, cfg.nperseg)).float().to(device)


def _end_padding(length: int, cfg: StftConfig) -> int:
    """Zeros scipy's ``padded=True`` adds at the end so the frames cover the signal."""
    extra = (length + 2 * (cfg.nperseg // 2) - cfg.nperseg) % cfg.hop
    return (cfg.hop - extra) % cfg.hop


def torch_stft(audio: torch.Tensor, cfg: StftConfig) -> torch.Tensor:
    """:func:`vqdsp.audio.stft.stft` in torch (differentiable, batched): ``[B, samples] -> [B, F, T]`` complex."""
    win = _window(cfg, str(audio.device))
    padded = F.pad(audio, (0, _end_padding(audio.shape[-1], cfg)))
    spec = torch.stft(padded, cfg.nperseg, cfg.hop, cfg.nperseg, win, center=True, pad_mode="constant", return_complex=True)
    return spec / win.sum()


def torch_istft(spec: torch.Tensor, length: int, cfg: StftConfig) -> torch.Tensor:
    """:func:`vqdsp.audio.stft.istft` in torch: ``[B, F, T]`` complex -> ``[B, length]``."""
    win = _window(cfg, str(spec.device))
    full = (spec.shape[-1] - 1) * cfg.hop
    return torch.istft(spec * win.sum(), cfg.nperseg, cfg.hop, cfg.nperseg, win, center=True, length=full)[..., :length]


def log_magnitude(spec: torch.Tensor, cfg: StftConfig) -> torch.Tensor:
    return torch.log(spec.abs() + cfg.log_floor)


def negative_si_sdr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Mean of minus the scale-invariant SDR (dB) over the batch ``[B, samples]``."""
    reference = reference - reference.mean(-1, keepdim=True)
    estimate = estimate - estimate.mean(-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / ((reference**2).sum(-1, keepdim=True) + eps)
    target = scale * reference
    ratio = (target**2).sum(-1) / ((estimate - target) ** 2).sum(-1).clamp_min(eps)
    return -(10 * torch.log10(ratio.clamp_min(eps))).mean()


def multi_resolution_stft_loss(estimate: torch.Tensor, reference: torch.Tensor, sizes: tuple[int, ...] = (128, 256, 512)) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over STFT sizes (hop = size / 4)."""
    total = estimate.new_zeros(())
    for n in sizes:
        win = torch.hann_window(n, device=estimate.device)
        est = torch.stft(estimate, n, n // 4, window=win, return_complex=True).abs()
        ref = torch.stft(reference, n, n // 4, window=win, return_complex=True).abs()
        convergence = torch.linalg.norm(ref - est, dim=(-2, -1)) / torch.linalg.norm(ref, dim=(-2, -1)).clamp_min(1e-7)
        total = total + convergence.mean() + F.l1_loss(torch.log(est + 1e-7), torch.log(ref + 1e-7))
    return total / len(sizes)


def denoising_loss(
    out: Denoised,
    clean_log_mag: torch.Tensor,
    weights: LossWeights = LossWeights(),
    *,
    noisy_spec: torch.Tensor | None = None,
    clean_audio: torch.Tensor | None = None,
    stft: StftConfig | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted loss and its parts (floats, for logging).

    Args:
        out: the model's output for the noisy input.
        clean_log_mag: ``[B, F, T]`` the target log-magnitude.
        weights: the terms' weights.
        noisy_spec: ``[B, F, T]`` complex noisy STFT, for the waveform terms.
        clean_audio: ``[B, samples]`` the target waveform, for the waveform terms.
        stft: the transform of both, for the waveform terms.
    """
    floor = clean_log_mag.amax(dim=(-2, -1), keepdim=True) - weights.dynamic_range_db * math.log(10) / 20
    est, ref = torch.maximum(out.log_magnitude, floor), torch.maximum(clean_log_mag, floor)
    terms = {"mse": F.mse_loss(est, ref), "l1": F.l1_loss(est, ref), "vq": out.vq_loss}
    if weights.speech_suppression > 0:
        terms["speech_suppression"] = F.relu(ref - est).mean()
    if weights.needs_waveform:
        if noisy_spec is None or clean_audio is None or stft is None:
            raise ValueError("the waveform loss terms need noisy_spec, clean_audio and stft")
        estimate = torch_istft(noisy_spec * torch.exp(out.log_gain), clean_audio.shape[-1], stft)
        if weights.si_sdr > 0:
            terms["si_sdr"] = negative_si_sdr(estimate, clean_audio)
        if weights.multi_resolution > 0:
            terms["multi_resolution"] = multi_resolution_stft_loss(estimate, clean_audio)
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    parts = {name: float(value.detach()) for name, value in terms.items()}
    parts["perplexity"] = float(out.perplexity.detach())
    return total, parts
