"""Train the high-band stage (:mod:`vqdsp.model.high_band`) on wide-band speech, the 8 kHz model frozen.

Pairs of (noisy, clean) segments at the wide-band rate are made with the training recipe, run
through the model exactly as the audio path runs them (:class:`~vqdsp.audio.denoiser.Denoiser`),
and kept in memory as the stage's inputs and the noisy and clean log-powers above the split. The
stage is small, so the pairs, not the optimiser steps, are what costs time.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vqdsp.atomic import atomic_write
from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.stft import stft
from vqdsp.extras import require
from vqdsp.model.checkpoint import load_model
from vqdsp.model.high_band import LOG_POWER_FLOOR, HighBandConfig, HighBandNet, band_layout, save_high_band, stage_inputs
from vqdsp.training.data import NoiseMix, NoisySpeech, SpeechAugmentation, load_corpus, load_noise_recordings

HIGH_BAND_NOISE = ("white", "pink", "brown", "hum", "babble", "clicks", "keyboard", "modulated", "fan")
"""Synthetic noise types with content above 4 kHz; ``recorded`` and ``music`` join them when folders of
full-band noise and music are given (the asterisk music corpus is 8 kHz: nothing for the stage)."""


@dataclass
class HighBandTrainConfig:
    """A high-band training run; saved in the run folder.

    Args:
        data: folders of wide-band clean speech (sub-folders are speakers), read at ``sample_rate``.
        out: run folder (the stage, its history and figure).
        model: the 8 kHz model whose gains the stage reads (a shipped model's name or a file).
        validation_speakers: speakers held out for validation (default: 10% of speakers).
        sample_rate: rate the pairs are made at (the stage learns up to ``stage.top_hz``, so at least twice that).
        noise: the noise recipe.
        noise_dirs: folders of full-band recorded noise (adds the ``recorded`` type).
        music_dirs: folders of full-band music (adds the ``music`` type).
        validation_noise: recorded noise (files or folders) held out of training: the validation pairs' own.
        validation_music: music held out of training: the validation pairs' own.
        augment: what is done to the clean speech (no codec: phone codecs end at 4 kHz).
        segments: training pairs made (one model segment each).
        val_segments: validation pairs made from the held-out speakers.
        steps: optimiser steps.
        batch_size: pairs per step.
        lr: AdamW learning rate (cosine-annealed to 1%).
        speech_suppression: extra L1 weight where the output falls below the clean speech.
        dynamic_range_db: log-powers this far below a segment's clean peak are floored on both sides.
        stage: sizes of the stage.
        seed: seeds data, noise and initialisation.
        threads: torch CPU threads (0: torch's default).
    """

    data: list[str] = field(default_factory=list)
    out: str = "runs/high-band"
    model: str = "default"
    validation_speakers: list[str] = field(default_factory=list)
    sample_rate: int = 16000
    noise: NoiseMix = field(default_factory=lambda: NoiseMix(types=HIGH_BAND_NOISE, second_noise=0.3))
    noise_dirs: list[str] = field(default_factory=list)
    music_dirs: list[str] = field(default_factory=list)
    validation_noise: list[str] = field(default_factory=list)
    validation_music: list[str] = field(default_factory=list)
    augment: SpeechAugmentation = field(default_factory=lambda: replace(SpeechAugmentation.robust(), codec=0.0))
    segments: int = 3000
    val_segments: int = 300
    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    speech_suppression: float = 1.0
    dynamic_range_db: float = 80.0
    stage: HighBandConfig = field(default_factory=HighBandConfig)
    seed: int = 0
    threads: int = 0


@dataclass
class StagePairs:
    """Pairs as the stage sees them: ``features [N, C, T]``, ``baseline [N, T]``, and the noisy and
    clean log-powers of the bins above the split, ``[N, F_above, T]`` (float16 to halve the memory)."""

    features: torch.Tensor
    baseline: torch.Tensor
    noisy: torch.Tensor
    clean: torch.Tensor

    def __len__(self) -> int:
        return len(self.features)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.features[index], self.baseline[index], self.noisy[index].float(), self.clean[index].float()


def make_pairs(source: NoisySpeech, denoiser: Denoiser, stage: HighBandConfig, count: int, rng: np.random.Generator, desc: str) -> StagePairs:
    """``count`` pairs from ``source`` (at the wide-band rate), through the model as the audio path runs it."""
    rate = source.stft.sample_rate
    cfg = denoiser.stft_at(rate)
    layout = band_layout(stage, cfg)
    parts: dict[str, list[np.ndarray]] = {"features": [], "baseline": [], "noisy": [], "clean": []}
    chunk = 16
    with tqdm(total=count, desc=desc, unit="pair") as bar:
        for start in range(0, count, chunk):
            noisy, clean = (t.numpy() for t in source.waveforms(min(chunk, count - start), rng))
            log_gain = denoiser.resampled_log_gains(noisy, rate)
            spec, clean_spec = stft(noisy, cfg), stft(clean, cfg)
            gain = denoiser.map_gain(log_gain, cfg, spec.shape[-2:])
            power = spec.real**2 + spec.imag**2
            features, baseline = stage_inputs(torch.from_numpy(power), torch.from_numpy(gain), layout)
            parts["features"].append(features.numpy())
            parts["baseline"].append(baseline.numpy())
            parts["noisy"].append(np.log(power[:, layout.split :] + LOG_POWER_FLOOR).astype(np.float16))
            clean_power = clean_spec.real**2 + clean_spec.imag**2
            parts["clean"].append(np.log(clean_power[:, layout.split :] + LOG_POWER_FLOOR).astype(np.float16))
            bar.update(len(noisy))
    f, b, n, c = (torch.from_numpy(np.concatenate(parts[k])) for k in ("features", "baseline", "noisy", "clean"))
    return StagePairs(f, b, n, c)


def stage_loss(
    net: HighBandNet, spread: torch.Tensor, batch: tuple[torch.Tensor, ...], speech_suppression: float, dynamic_range_db: float
) -> torch.Tensor:
    """L1 between the output's and the clean log-powers above the split, plus the price of suppressed speech.

    Both sides are floored ``dynamic_range_db`` below each segment's clean peak, so the loss does not
    chase noise far under the speech; where the output falls below the clean speech the error costs
    ``1 + speech_suppression`` times as much (lost speech is worse than kept noise).
    """
    features, baseline, noisy, clean = batch
    bin_gain = torch.einsum("fb,nbt->nft", spread, net(features, baseline))  # log amplitude gain per bin
    out = noisy + 2 * bin_gain
    floor = clean.amax(dim=(1, 2), keepdim=True) - dynamic_range_db / 10 * math.log(10)
    out, clean = out.maximum(floor), clean.maximum(floor)
    return (out - clean).abs().mean() + speech_suppression * (clean - out).clamp_min(0).mean()


def band_error_db(net: HighBandNet, pairs: StagePairs, spread: torch.Tensor) -> tuple[float, float]:
    """Mean absolute error in dB of the output's energy per band of the stage above the split, against
    the clean speech, over frames with speech there; and the same for the noisy input (for scale)."""
    with torch.no_grad():
        features, baseline, noisy, clean = pairs.batch(torch.arange(len(pairs)))
        out = noisy + 2 * torch.einsum("fb,nbt->nft", spread, net(features, baseline))
        members = spread / spread.sum(dim=0, keepdim=True)  # bins -> bands, weighted as the spreading is
        to_db = 10 / math.log(10)

        def bands(log_power: torch.Tensor) -> torch.Tensor:
            return torch.log(torch.einsum("fb,nft->nbt", members, log_power.exp()) + LOG_POWER_FLOOR) * to_db

        ref = bands(clean)
        active = ref > ref.amax(dim=(1, 2), keepdim=True) - 40  # frames within 40 dB of the segment's peak
        return float((bands(out) - ref).abs()[active].mean()), float((bands(noisy) - ref).abs()[active].mean())


def train_high_band(cfg: HighBandTrainConfig) -> Path:
    """Make the pairs, train the stage, keep the best on validation; returns ``out/high_band.safetensors``."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "train_config.json", lambda tmp: tmp.write_text(json.dumps(asdict(cfg), indent=1)))
    model = load_model(cfg.model)
    stage_cfg = replace(cfg.stage, model_stft=model.config.stft)
    if cfg.sample_rate < stage_cfg.min_sample_rate:
        raise ValueError(f"the stage learns up to {stage_cfg.top_hz:g} Hz: train at {stage_cfg.min_sample_rate} Hz or more, not {cfg.sample_rate}")
    denoiser = Denoiser(model, batch_size=16)
    corpus = load_corpus(cfg.data, cfg.sample_rate, cfg.validation_speakers, seed=cfg.seed)
    audio_stft = denoiser.stft_at(cfg.sample_rate)
    rng = np.random.default_rng(cfg.seed)
    noises = load_noise_recordings(cfg.sample_rate, cfg.noise_dirs, cfg.music_dirs, cfg.validation_noise, cfg.validation_music)
    mix = noises.with_types(cfg.noise)
    train_source = NoisySpeech(corpus.train, mix, audio_stft, noises.recordings, cfg.augment, noises.music)
    train_pairs = make_pairs(train_source, denoiser, stage_cfg, cfg.segments, rng, "training pairs")
    val_source = NoisySpeech(  # held-out speakers, with the held-out noise and music where there are some
        corpus.validation or corpus.train, mix, audio_stft, noises.validation_recordings or noises.recordings, cfg.augment,
        noises.validation_music or noises.music,
    )
    val_pairs = make_pairs(val_source, denoiser, stage_cfg, cfg.val_segments, np.random.default_rng(10_000 + cfg.seed), "validation pairs")

    net = HighBandNet(stage_cfg)
    spread = band_layout(stage_cfg, audio_stft).spread
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.steps, eta_min=cfg.lr / 100)
    generator = torch.Generator().manual_seed(cfg.seed)
    every = max(1, cfg.steps // 20)
    history: list[dict] = []
    best = math.inf
    running: list[float] = []

    def validate(step: int) -> None:
        nonlocal best
        net.eval()
        with torch.no_grad():
            val = float(np.mean([
                float(stage_loss(net, spread, val_pairs.batch(idx), cfg.speech_suppression, cfg.dynamic_range_db))
                for idx in torch.arange(len(val_pairs)).split(64)
            ]))
        error, error_noisy = band_error_db(net, val_pairs, spread)
        history.append({"step": step, "train_loss": float(np.mean(running)) if running else math.nan, "val_loss": val,
                        "band_error_db": error, "band_error_noisy_db": error_noisy, "lr": optimizer.param_groups[0]["lr"]})
        if val < best:
            best = val
            save_high_band(net, out / "high_band.safetensors", trained_with=str(cfg.model))
        net.train()

    validate(0)  # the old rule, for reference
    net.train()
    for step in tqdm(range(1, cfg.steps + 1), desc="training high band", unit="step"):
        index = torch.randint(len(train_pairs), (cfg.batch_size,), generator=generator)
        loss = stage_loss(net, spread, train_pairs.batch(index), cfg.speech_suppression, cfg.dynamic_range_db)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running.append(loss.item())
        if step % every == 0 or step == cfg.steps:
            validate(step)
            running = []
    atomic_write(out / "history.jsonl", lambda tmp: tmp.write_text("".join(json.dumps(h) + "\n" for h in history)))
    plot_high_band_history(history, out / "loss.png")
    return out / "high_band.safetensors"


def plot_high_band_history(history: list[dict], path: Path) -> None:
    """Loss curves and the validation band-energy error (with the noisy input's), as a PNG."""
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(steps, [h["train_loss"] for h in history], label="train")
    ax1.plot(steps, [h["val_loss"] for h in history], label="validation")
    ax1.set(xlabel="step", ylabel="loss", title="high-band stage loss")
    ax1.legend()
    ax2.plot(steps, [h["band_error_db"] for h in history], label="denoised")
    ax2.plot(steps, [h["band_error_noisy_db"] for h in history], label="noisy", linestyle="--")
    ax2.set(xlabel="step", ylabel="dB", title="band energy error above the split, held-out speakers")
    ax2.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
