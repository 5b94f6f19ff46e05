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

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from vqdsp.audio.files import find_audio_files, read_mono
from vqdsp.atomic import atomic_write
from vqdsp.model.checkpoint import save_model
from vqdsp.model.config import ModelConfig
from vqdsp.training.data import Corpus, NoiseMix, NoisySpeech, load_corpus
from vqdsp.audio.effect import VQDenoise
from vqdsp.evaluation.metrics import pesq, stoi
from vqdsp.model.unet import LossWeights, SEUNet, denoising_loss


@dataclass
class TrainConfig:
    """Everything a training run needs; saved in the run folder.

    Args:
        data: folders of clean speech (sub-folders are speakers).
        out: run folder (checkpoints, logs, figures, the final model).
        validation_speakers: speakers held out for validation (default: 10% of speakers).
        noise: the noise recipe.
        noise_dirs: folders of recorded noise (adds the ``recorded`` type).
        steps: optimiser steps in all.
        batch_size: segments per step (per process).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: max gradient norm.
        eval_every: steps per "epoch": validation, log line, checkpoint.
        val_segments: size of the fixed validation set (loss).
        val_utterances: held-out utterances scored with PESQ/STOI each epoch.
        loss: weights of the seed's loss.
        seed: seeds data, noise and initialisation.
        amp: mixed precision on CUDA (bf16 autocast).
        threads: torch CPU threads per process (0: leave torch's default).
    """

    data: list[str] = field(default_factory=list)
    out: str = "runs/default"
    validation_speakers: list[str] = field(default_factory=list)
    noise: NoiseMix = field(default_factory=NoiseMix)
    noise_dirs: list[str] = field(default_factory=list)
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


def validation_set(corpus: Corpus, cfg: TrainConfig, model_cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed set of (noisy, clean) log-magnitudes from held-out speakers, the same every epoch."""
    source = NoisySpeech(corpus.validation or corpus.train, cfg.noise, model_cfg.stft)
    return source.batch(cfg.val_segments, np.random.default_rng(10_000 + cfg.seed))


def score_utterances(model: SEUNet, corpus: Corpus, cfg: TrainConfig, model_cfg: ModelConfig) -> dict[str, float]:
    """Mean PESQ / STOI of the model on a few held-out utterances at 5 dB white and babble noise."""
    from vqdsp.training.noise import make_noise, mix_at_snr

    if cfg.val_utterances == 0:
        return {}
    rng = np.random.default_rng(20_000 + cfg.seed)
    pool = corpus.validation or corpus.train
    picks = sorted(range(len(pool)), key=lambda i: -len(pool[i]))[: cfg.val_utterances]
    denoiser, rate = VQDenoise(model=model), model_cfg.stft.sample_rate
    scores: dict[str, list[float]] = {"pesq": [], "stoi": [], "pesq_noisy": [], "stoi_noisy": []}
    for i in picks:
        clean = pool[i]
        for kind in ("white", "babble"):
            noisy = mix_at_snr(clean, make_noise(kind, len(clean), rng, rate, pool), 5.0)
            out = denoiser(noisy, rate)
            scores["pesq"].append(pesq(clean, out, rate))
            scores["stoi"].append(stoi(clean, out, rate))
            scores["pesq_noisy"].append(pesq(clean, noisy, rate))
            scores["stoi_noisy"].append(stoi(clean, noisy, rate))
    return {k: float(np.nanmean(v)) for k, v in scores.items()}


def plot_history(history: list[dict], path: Path) -> None:
    """Loss curves (train and validation) and validation PESQ, as a PNG."""
    import matplotlib

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
    ax2.set(xlabel="step", ylabel="PESQ (nb)", title="validation PESQ, 5 dB")
    ax2.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def train(cfg: TrainConfig, model_cfg: ModelConfig = ModelConfig(), resume: bool = False) -> Path:
    """Train, checkpointing every ``eval_every`` steps; returns the final model file (``out/model.safetensors``)."""
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
            raise FileExistsError(f"{out} already holds a run; pass resume=True (--resume) to continue it")
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1))

    corpus = load_corpus(cfg.data, model_cfg.stft.sample_rate, cfg.validation_speakers, seed=cfg.seed)
    recordings = [read_mono(p, model_cfg.stft.sample_rate) for d in cfg.noise_dirs for p in find_audio_files(d)]
    mix = cfg.noise
    if recordings and "recorded" not in mix.types:
        mix = NoiseMix(mix.types + ("recorded",), mix.snr_db, mix.gain_db, mix.spectrogram_noise)
    source = NoisySpeech(corpus.train, mix, model_cfg.stft, recordings)
    val_noisy, val_clean = validation_set(corpus, cfg, model_cfg)

    model = SEUNet(model_cfg).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    step, history, rng_state = 0, [], None
    if resume and ckpt.exists():
        state = ckpt.load(model, optimizer, scheduler)
        step, history, rng_state = state["step"], state["history"], state["rng"]
        torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
    rng = np.random.default_rng([cfg.seed, rank])
    if rng_state is not None:
        rng.bit_generator.state = rng_state[rank] if isinstance(rng_state, list) else rng_state
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    use_amp = cfg.amp and device.type == "cuda"

    bar = tqdm(total=cfg.steps, initial=step, desc="training", unit="step", disable=rank != 0)
    running, t0 = [], time.time()
    while step < cfg.steps:
        model.train()
        noisy, clean = (t.to(device) for t in source.batch(cfg.batch_size, rng))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            result = net(noisy)
        loss, parts = denoising_loss(result, clean, cfg.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        running.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}", ppl=f"{parts['perplexity']:.0f}")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val_loss = evaluate_loss(model, val_noisy, val_clean, cfg.loss, device)
            scheduler.step(val_loss)
            rngs = [None] * world
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
                entry.update(score_utterances(model, corpus, cfg, model_cfg))
                history.append(entry)
                _write_logs(out, history)
                ckpt.save(model, optimizer, scheduler, {
                    "step": step, "history": history, "rng": rngs,
                    "torch_rng": torch.get_rng_state().tolist(),
                })
                bar.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()}))
            running, t0 = [], time.time()
    bar.close()
    final = out / "model.safetensors"
    if rank == 0:
        save_model(model, final)
    return final


@torch.no_grad()
def evaluate_loss(model: SEUNet, noisy: torch.Tensor, clean: torch.Tensor, weights: LossWeights, device) -> float:
    model.eval()
    losses = []
    for start in range(0, len(noisy), 16):
        result = model(noisy[start : start + 16].to(device))
        losses.append(float(denoising_loss(result, clean[start : start + 16].to(device), weights)[0]))
    return float(np.mean(losses))


def _write_logs(out: Path, history: list[dict]) -> None:
    atomic_write(out / "history.jsonl", lambda tmp: tmp.write_text("".join(json.dumps(h) + "\n" for h in history)))

    def write_csv(tmp: Path) -> None:
        keys = sorted({k for h in history for k in h})
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)

    atomic_write(out / "history.csv", write_csv)
    plot_history(history, out / "loss.png")


def init_distributed() -> None:
    """Join the process group when started by ``torchrun`` (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
