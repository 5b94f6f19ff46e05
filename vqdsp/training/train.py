"""Train the SE-U-Net on your own recordings: AdamW, LR on validation loss, checkpoints that resume exactly.

Run on one process, or on several with ``torchrun`` (PyTorch's DDP; gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from vqdsp.atomic import atomic_write
from vqdsp.audio.effect import VQDenoise
from vqdsp.evaluation.metrics import pesq, pesq_rate, stoi
from vqdsp.extras import require
from vqdsp.model.checkpoint import load_model, save_model
from vqdsp.model.config import ModelConfig, StftConfig
from vqdsp.model.unet import SEUNet
from vqdsp.training.data import Corpus, NoiseMix, NoisySpeech, SpeechAugmentation, load_corpus, load_noise_recordings
from vqdsp.training.losses import LossWeights, denoising_loss, log_magnitude, torch_stft


@dataclass
class TrainConfig:
    """Everything a training run needs; saved in the run folder.

    Args:
        data: folders of clean speech (sub-folders are speakers).
        out: run folder (checkpoints, logs, figures, the final model).
        validation_speakers: speakers held out for validation (default: 10% of speakers).
        noise: the noise recipe.
        noise_dirs: folders of recorded noise (adds the ``recorded`` type).
        music_dirs: folders of music for the ``music`` noise type (added when given).
        validation_music: music held out of training, for the out-of-domain validation.
        augment: what is done to the clean speech before noise is added.
        steps: optimiser steps in all.
        batch_size: segments per step (per process).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: max gradient norm.
        eval_every: steps per "epoch": validation, log line, checkpoint.
        val_segments: size of the fixed validation set (loss).
        val_utterances: held-out utterances scored with PESQ/STOI each epoch, under held-out
            conditions (see :func:`out_of_domain_conditions`); the best score is kept as ``best.safetensors``.
        loss: weights of the loss terms.
        seed: seeds data, noise and initialisation.
        amp: mixed precision on CUDA (bf16 autocast).
        threads: torch CPU threads per process (0: leave torch's default).
        max_minutes: stop cleanly at the first checkpoint after this much wall time (0: no limit);
            ``--resume`` continues the run.
        schedule: ``plateau`` halves the LR when the validation loss stops falling (3 epochs);
            ``cosine`` anneals it to 1% of ``lr`` over ``steps`` (steadier when fine-tuning on a noisy
            validation loss).
        init_from: a model file to start from (fine-tuning; its architecture must match), with a
            fresh optimiser; empty: random initialisation.
    """

    data: list[str] = field(default_factory=list)
    out: str = "runs/default"
    validation_speakers: list[str] = field(default_factory=list)
    noise: NoiseMix = field(default_factory=NoiseMix)
    noise_dirs: list[str] = field(default_factory=list)
    music_dirs: list[str] = field(default_factory=list)
    validation_music: list[str] = field(default_factory=list)
    augment: SpeechAugmentation = field(default_factory=SpeechAugmentation)
    steps: int = 20000
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    eval_every: int = 200
    val_segments: int = 64
    val_utterances: int = 6
    loss: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    amp: bool = True
    threads: int = 0
    max_minutes: float = 0.0
    schedule: str = "plateau"
    init_from: str = ""


SCHEDULES = ("plateau", "cosine")


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    """The LR schedule of ``cfg.schedule``; its ``step`` takes the validation loss (ignored by ``cosine``)."""
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    if cfg.schedule == "cosine":
        epochs = max(1, math.ceil(cfg.steps / cfg.eval_every))
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=cfg.lr / 100)

        class _Cosine:  # one step per epoch, like the plateau schedule; the loss argument is unused
            def step(self, _loss: float) -> None:
                cosine.step()

            def state_dict(self) -> dict:
                return cosine.state_dict()

            def load_state_dict(self, state: dict) -> None:
                cosine.load_state_dict(state)

        return _Cosine()
    raise ValueError(f"unknown schedule {cfg.schedule!r}; choose from {', '.join(SCHEDULES)}")


class Checkpoint:
    """A resumable training state in ``folder``: model (safetensors + config), optimiser tensors, and the rest as JSON."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.model_file = folder / "model.safetensors"
        self.optim_file = folder / "optimizer.safetensors"
        self.state_file = folder / "state.json"

    def exists(self) -> bool:
        return self.state_file.is_file()

    def save(self, model: SEUNet, optimizer: torch.optim.Optimizer, scheduler, state: dict) -> None:
        save_model(model, self.model_file)
        opt = optimizer.state_dict()
        tensors, scalars = {}, {}
        for pid, pstate in opt["state"].items():
            for name, value in pstate.items():
                key = f"{pid}.{name}"
                if torch.is_tensor(value):
                    tensors[key] = value.detach().cpu().contiguous()
                else:
                    scalars[key] = value
        atomic_write(self.optim_file, lambda tmp: save_file(tensors, str(tmp)))
        full = dict(state, optimizer_groups=opt["param_groups"], optimizer_scalars=scalars, scheduler=scheduler.state_dict())
        atomic_write(self.state_file, lambda tmp: tmp.write_text(json.dumps(full, indent=1)))

    def load(self, model: SEUNet, optimizer: torch.optim.Optimizer, scheduler) -> dict:
        state = json.loads(self.state_file.read_text())
        weights = load_file(str(self.model_file))
        model.load_state_dict(weights)
        tensors = load_file(str(self.optim_file))
        opt_state: dict[int, dict] = {}
        for key, value in list(tensors.items()) + list(state.pop("optimizer_scalars").items()):
            pid, name = key.split(".", 1)
            opt_state.setdefault(int(pid), {})[name] = value
        optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("optimizer_groups")})
        scheduler.load_state_dict(state.pop("scheduler"))
        return state


def _rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def validation_set(
    corpus: Corpus, cfg: TrainConfig, model_cfg: ModelConfig, mix: NoiseMix, recordings: list[np.ndarray], music: list[np.ndarray]
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed set of (noisy, clean) waveforms from held-out speakers with the training recipe, the same every epoch."""
    source = NoisySpeech(corpus.validation or corpus.train, mix, model_cfg.stft, recordings, cfg.augment, music)
    return source.waveforms(cfg.val_segments, np.random.default_rng(10_000 + cfg.seed))


OUT_OF_DOMAIN = (("babble", 0.0), ("music", 5.0), ("reverb", 5.0), ("channel", 5.0))
"""The held-out conditions the best checkpoint is chosen on (see :func:`vqdsp.evaluation.evaluate.make_condition`):
babble of held-out talkers, held-out music, a 1.0 s RT60 room (training rooms stop at 0.8 s) and a
GSM telephone line."""


def out_of_domain_conditions(
    clean: np.ndarray, rng: np.random.Generator, sample_rate: int, talkers: list[np.ndarray], music: list[np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(reference, noisy) pairs of ``clean`` under :data:`OUT_OF_DOMAIN` (``music`` only when given)."""
    from vqdsp.evaluation.evaluate import make_condition

    return {
        f"{kind} {snr:g} dB": make_condition(kind, clean, snr, rng, sample_rate, talkers=talkers, music=music)
        for kind, snr in OUT_OF_DOMAIN
        if kind != "music" or music
    }


def score_utterances(model: SEUNet, corpus: Corpus, cfg: TrainConfig, model_cfg: ModelConfig, music: list[np.ndarray]) -> dict[str, float]:
    """Mean PESQ / STOI of the model (and of the noisy input) on held-out utterances under held-out conditions.

    ``score`` = PESQ + 10 x STOI, the number the best checkpoint is chosen on.
    """
    if cfg.val_utterances == 0:
        return {}
    rng = np.random.default_rng(20_000 + cfg.seed)
    pool = corpus.validation or corpus.train
    picks = sorted(range(len(pool)), key=lambda i: -len(pool[i]))[: cfg.val_utterances]
    talkers = [pool[i] for i in range(len(pool)) if i not in picks][:32] or pool
    denoiser, rate = VQDenoise(model=model), model_cfg.stft.sample_rate
    scores: dict[str, list[float]] = {"pesq": [], "stoi": [], "pesq_noisy": [], "stoi_noisy": []}
    for i in picks:
        for ref, noisy in out_of_domain_conditions(pool[i], rng, rate, talkers, music).values():
            out = denoiser(noisy, rate)
            scores["pesq"].append(pesq(ref, out, rate))
            scores["stoi"].append(stoi(ref, out, rate))
            scores["pesq_noisy"].append(pesq(ref, noisy, rate))
            scores["stoi_noisy"].append(stoi(ref, noisy, rate))
    result = {k: float(np.nanmean(v)) for k, v in scores.items()}
    result["score"] = result["pesq"] + 10 * result["stoi"]
    return result


def plot_history(history: list[dict], path: Path, sample_rate: int = 8000) -> None:
    """Loss curves (train and validation) and validation PESQ (narrow or wide band, by ``sample_rate``), as a PNG."""
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(steps, [h["train_loss"] for h in history], label="train")
    ax1.plot(steps, [h["val_loss"] for h in history], label="validation")
    ax1.set(xlabel="step", ylabel="loss", title="loss", yscale="log")
    ax1.legend()
    ax2.plot(steps, [h.get("pesq", math.nan) for h in history], label="denoised")
    ax2.plot(steps, [h.get("pesq_noisy", math.nan) for h in history], label="noisy", linestyle="--")
    ax2.set(xlabel="step", ylabel=f"PESQ ({pesq_rate(sample_rate)[1]})", title="validation PESQ, held-out conditions")
    ax2.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def train(cfg: TrainConfig, model_cfg: ModelConfig = ModelConfig(), resume: bool = False) -> Path:
    """Train, checkpointing every ``eval_every`` steps; returns the final model file (``out/model.safetensors``).

    When ``max_minutes`` stops the run first, that file is not written yet (``resume=True`` continues).
    """
    rank, world = _rank()
    out = Path(cfg.out)
    ckpt = Checkpoint(out / "checkpoint")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if ckpt.exists() and not resume:
            raise FileExistsError(f"{out} already holds a run; pass --resume (Python: resume=True) to continue it, or choose another -o")
        if resume and not ckpt.exists():  # resuming nothing would silently start afresh
            raise FileNotFoundError(f"no checkpoint in {out} to resume; check -o/--out, or drop --resume to start a new run")
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1))

    corpus = load_corpus(cfg.data, model_cfg.stft.sample_rate, cfg.validation_speakers, seed=cfg.seed)
    rate = model_cfg.stft.sample_rate
    noises = load_noise_recordings(rate, cfg.noise_dirs, cfg.music_dirs, validation_music=cfg.validation_music)
    recordings, music, validation_music = noises.recordings, noises.music, noises.validation_music
    mix = noises.with_types(cfg.noise)
    source = NoisySpeech(corpus.train, mix, model_cfg.stft, recordings, cfg.augment, music)
    val_noisy, val_clean = validation_set(corpus, cfg, model_cfg, mix, recordings, music)

    model = SEUNet(model_cfg)
    if cfg.init_from:
        start = load_model(cfg.init_from)
        if start.config != model_cfg:
            raise ValueError(f"{cfg.init_from} has another architecture than this run: {start.config} != {model_cfg}")
        model.load_state_dict(start.state_dict())
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = make_scheduler(optimizer, cfg)
    step, history, rng_state = 0, [], None
    if resume and ckpt.exists():
        state = ckpt.load(model, optimizer, scheduler)
        step, history, rng_state = state["step"], state["history"], state["rng"]
        torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
    rng = np.random.default_rng([cfg.seed, rank])
    if rng_state is not None:
        rng.bit_generator.state = rng_state[rank] if isinstance(rng_state, list) else rng_state
    net: torch.nn.Module = model  # the model, or its DistributedDataParallel wrapper
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    use_amp = cfg.amp and device.type == "cuda"

    bar = tqdm(total=cfg.steps, initial=step, desc="training", unit="step", disable=rank != 0)
    running, t0, started = [], time.time(), time.time()
    while step < cfg.steps:
        model.train()
        noisy, clean = (t.to(device) for t in source.waveforms(cfg.batch_size, rng))
        loss, parts = loss_on_waveforms(
            net, noisy, clean, cfg.loss, model_cfg.stft, spectrogram_noise=cfg.noise.spectrogram_noise, amp=use_amp
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        running.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}", ppl=f"{parts['perplexity']:.0f}")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val_loss = evaluate_loss(model, val_noisy, val_clean, cfg.loss, model_cfg, device)
            scheduler.step(val_loss)
            rngs: list[Any] = [None] * world  # each rank's generator state
            if world > 1:
                dist.all_gather_object(rngs, rng.bit_generator.state)
            else:
                rngs = [rng.bit_generator.state]
            if rank == 0:
                entry = {
                    "step": step, "train_loss": float(np.mean(running)), "val_loss": val_loss,
                    "lr": optimizer.param_groups[0]["lr"], "perplexity": parts["perplexity"],
                    "seconds": time.time() - t0,
                }
                entry.update(score_utterances(model, corpus, cfg, model_cfg, validation_music))
                if "score" in entry and entry["score"] >= max((h.get("score", -math.inf) for h in history), default=-math.inf):
                    save_model(model, out / "best.safetensors")
                history.append(entry)
                _write_logs(out, history, rate)
                ckpt.save(model, optimizer, scheduler, {
                    "step": step, "history": history, "rng": rngs,
                    "torch_rng": torch.get_rng_state().tolist(),
                })
                bar.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()}))
            running, t0 = [], time.time()
            if cfg.max_minutes and time.time() - started >= 60 * cfg.max_minutes and step < cfg.steps:
                bar.write(f"stopping at step {step} after {cfg.max_minutes:g} min; continue with --resume")
                break
    bar.close()
    final = out / "model.safetensors"
    if rank == 0 and step >= cfg.steps:
        save_model(model, final)
    return final


def loss_on_waveforms(
    model: torch.nn.Module, noisy: torch.Tensor, clean: torch.Tensor, weights: LossWeights, stft: StftConfig,
    *, spectrogram_noise: float = 0.0, amp: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The model on noisy waveforms ``[B, samples]`` and its loss against the clean ones (the transforms in torch).

    Args:
        spectrogram_noise: std of the seed's Gaussian noise on the noisy log-magnitude (training only).
        amp: run the model under bf16 autocast.
    """
    noisy_spec = torch_stft(noisy, stft)
    noisy_lm = log_magnitude(noisy_spec, stft)
    if spectrogram_noise > 0:
        noisy_lm = noisy_lm + spectrogram_noise * torch.randn_like(noisy_lm)
    with torch.autocast(noisy.device.type, dtype=torch.bfloat16, enabled=amp):
        result = model(noisy_lm)
    clean_lm = log_magnitude(torch_stft(clean, stft), stft)
    return denoising_loss(result, clean_lm, weights, noisy_spec=noisy_spec, clean_audio=clean, stft=stft)


@torch.no_grad()
def evaluate_loss(model: SEUNet, noisy: torch.Tensor, clean: torch.Tensor, weights: LossWeights, model_cfg: ModelConfig, device) -> float:
    """The training loss on the fixed validation waveforms (eval mode)."""
    model.eval()
    losses = []
    for start in range(0, len(noisy), 16):
        n, c = noisy[start : start + 16].to(device), clean[start : start + 16].to(device)
        losses.append(float(loss_on_waveforms(model, n, c, weights, model_cfg.stft)[0]))
    return float(np.mean(losses))


def _write_logs(out: Path, history: list[dict], sample_rate: int) -> None:
    atomic_write(out / "history.jsonl", lambda tmp: tmp.write_text("".join(json.dumps(h) + "\n" for h in history)))

    def write_csv(tmp: Path) -> None:
        keys = sorted({k for h in history for k in h})
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)

    atomic_write(out / "history.csv", write_csv)
    plot_history(history, out / "loss.png", sample_rate)


def init_distributed() -> None:
    """Join the process group when started by ``torchrun`` (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
