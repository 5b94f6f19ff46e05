"""``vqdsp train`` and ``vqdsp train-high-band``: their parsers and cross-checks."""

from __future__ import annotations

import argparse

from vqdsp.arguments import number, ordered, whole_number
from vqdsp.checks import BadValue
from vqdsp.cli.common import (
    COUNT,
    HIGH_BAND_STAGE,
    LEARNING_RATE,
    MODEL,
    NOISE_TYPES,
    SEED,
    SNR_DB,
    THREADS,
    TRAIN_NOISE,
    TRAIN_SNR_DB,
    WEIGHT,
    HelpFormatter,
    fatal,
)
from vqdsp.model.config import MAX_CHANNELS, MAX_CODEBOOK_SIZE, MAX_NPERSEG, ModelConfig, StftConfig
from vqdsp.model.high_band_config import MAX_BANDS, MAX_KERNEL, MAX_LAYERS, HighBandConfig


# -- train ------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from vqdsp.training.data import NoiseMix, SpeechAugmentation
    from vqdsp.training.losses import LossWeights
    from vqdsp.training.train import TrainConfig, init_distributed, train

    init_distributed()
    cfg = TrainConfig(
        data=args.data, out=args.out, validation_speakers=args.validation_speaker or [],
        noise=NoiseMix(types=tuple(args.noise), snr_db=tuple(args.snr_db), second_noise=args.second_noise,
                       clean_fraction=args.clean_fraction),
        noise_dirs=args.noise_dir or [], music_dirs=args.music_dir or [], validation_music=args.validation_music or [],
        augment={"robust": SpeechAugmentation.robust, "voices": SpeechAugmentation.voices}.get(args.augment, SpeechAugmentation)(),
        loss=LossWeights(si_sdr=args.si_sdr_weight, multi_resolution=args.multi_resolution_weight,
                         speech_suppression=args.speech_suppression_weight),
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, eval_every=args.eval_every,
        val_segments=args.val_segments, val_utterances=args.val_utterances, seed=args.seed, threads=args.threads,
        max_minutes=args.max_minutes, schedule=args.schedule, init_from=args.init_from or "",
    )  # fmt: skip
    try:
        stft = StftConfig.seed_grid(args.sample_rate, args.nperseg or StftConfig().nperseg)
        model_cfg = ModelConfig(channels=tuple(args.channels), codebook_size=args.codebook_size, stft=stft)
        final = train(cfg, model_cfg, resume=args.resume)
    except (FileExistsError, ValueError, FileNotFoundError) as err:
        return fatal(str(err))
    if not final.exists():  # --max-minutes stopped the run at a checkpoint
        print(f"stopped at a checkpoint in {args.out}; run the same command with --resume to continue")
        return 0
    print(f"model written to {final}")
    return 0


def _check_train(args: argparse.Namespace) -> str | None:
    """What is wrong with ``vqdsp train``'s options taken together (each alone was checked as it was parsed)."""
    if not 2 <= len(args.channels) <= 8:
        return f"argument --channels: needs 2 to 8 values (one per U-Net level), got {len(args.channels)}"
    try:
        stft = StftConfig.seed_grid(args.sample_rate, args.nperseg or StftConfig().nperseg)
    except ValueError as err:
        return f"argument --nperseg: {err}"
    try:
        ModelConfig(channels=tuple(args.channels), codebook_size=args.codebook_size, stft=stft)
    except BadValue as err:
        return f"argument {TRAIN_FLAGS.get(err.name.split('[')[0], '--channels')}: {err.renamed(err.name)}"
    except ValueError as err:
        return f"argument --channels: {err}"
    return ordered(args.snr_db, "--snr-db")


TRAIN_FLAGS = {"channels": "--channels", "codebook_size": "--codebook-size", "stft.segment_samples": "--nperseg",
               "stft.nperseg": "--nperseg", "stft.sample_rate": "--sample-rate"}


def _add_train(sub: argparse._SubParsersAction) -> None:
    model = ModelConfig()
    p = sub.add_parser("train", help="train a model on folders of clean speech", formatter_class=HelpFormatter,
                       description="Train a model on folders of clean speech, noise mixed in on the fly (needs vqdsp[train]).")
    p.add_argument("data", nargs="+", help="folders of clean speech; each sub-folder is a speaker")
    p.add_argument("-o", "--out", default="runs/default", help="run folder for checkpoints, logs and the model")
    p.add_argument("--validation-speaker", action="append", help="speaker (sub-folder) to hold out; repeatable (default: 10%% of the speakers)")
    p.add_argument("--noise", nargs="+", default=list(TRAIN_NOISE), choices=NOISE_TYPES, metavar="TYPE",
                   help=f"noise types: {' '.join(NOISE_TYPES)}")
    p.add_argument("--noise-dir", action="append", help="folder of recorded noise to mix in; repeatable")
    p.add_argument("--music-dir", action="append", help="folder of music to mix in as noise; repeatable")
    p.add_argument("--validation-music", action="append", help="music file or folder held out of training for validation; repeatable")
    p.add_argument("--second-noise", type=number(0.0, 1.0), default=0.3, help="probability of a second noise type at once")
    p.add_argument("--snr-db", nargs=2, type=SNR_DB, default=list(TRAIN_SNR_DB), metavar=("LOW", "HIGH"), help="SNR range in dB")
    p.add_argument("--clean-fraction", type=number(0.0, 1.0), default=0.0,
                   help="share of segments with the noise 30-50 dB under the speech, so clean speech passes untouched")
    p.add_argument("--augment", choices=["robust", "voices", "none"], default="robust",
                   help="clean-speech augmentation: speed, room, microphone EQ, band limit, codec; "
                        "voices: the same plus vocal-tract length warping, for few voices")
    p.add_argument("--si-sdr-weight", type=WEIGHT, default=0.02, help="weight of the waveform SI-SDR loss term")
    p.add_argument("--multi-resolution-weight", type=WEIGHT, default=0.0, help="weight of the multi-resolution STFT loss term")
    p.add_argument("--speech-suppression-weight", type=WEIGHT, default=1.0, help="extra L1 weight on suppressed speech")
    p.add_argument("--max-minutes", type=number(0.0), default=0.0, help="stop cleanly at the first checkpoint after this wall time; --resume continues (0: no limit)")
    p.add_argument("--steps", type=COUNT, default=20000, help="optimiser steps")
    p.add_argument("--batch-size", type=COUNT, default=16, help="segments per step (per process)")
    p.add_argument("--lr", type=LEARNING_RATE, default=2e-3, help="AdamW learning rate")
    p.add_argument("--schedule", choices=["plateau", "cosine"], default="plateau",
                   help="LR schedule: halve on a validation-loss plateau, or cosine annealing to 1%% over --steps")
    p.add_argument("--init-from", metavar="MODEL", type=MODEL, help="start from this model file (fine-tuning), with a fresh optimiser")
    p.add_argument("--eval-every", type=COUNT, default=200, help="steps between validation and checkpoints")
    p.add_argument("--val-segments", type=COUNT, default=64, help="segments in the fixed validation set (loss)")
    p.add_argument("--val-utterances", type=whole_number(0), default=6, help="held-out utterances scored with PESQ/STOI per epoch (0: none)")
    p.add_argument("--channels", nargs="+", type=whole_number(1, MAX_CHANNELS), default=list(model.channels), help="channels per U-Net level")
    p.add_argument("--codebook-size", type=whole_number(1, MAX_CODEBOOK_SIZE), default=model.codebook_size, help="codes in the bottleneck quantizer")
    p.add_argument("--sample-rate", type=int, default=model.stft.sample_rate, choices=(8000, 16000),
                   help="the model's rate, in Hz: 8000 (telephony) or 16000 (wide band); speech is read at it")
    p.add_argument("--nperseg", type=whole_number(2, MAX_NPERSEG), help="STFT window in samples at --sample-rate (default: the seed's 519; the hop stays 1/260 s)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed")
    p.add_argument("--threads", type=THREADS, default=0, help="torch CPU threads per process (0: torch's default)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.set_defaults(run=_train, check=_check_train, parser=p)


def _train_high_band(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vqdsp.training.high_band import HighBandTrainConfig, train_high_band

    base = HighBandTrainConfig()
    cfg = HighBandTrainConfig(
        data=args.data, out=args.out, model=args.model, validation_speakers=args.validation_speaker or [],
        sample_rate=args.sample_rate, noise=replace(base.noise, snr_db=tuple(args.snr_db)), noise_dirs=args.noise_dir or [],
        music_dirs=args.music_dir or [], validation_noise=args.validation_noise or [], validation_music=args.validation_music or [],
        segments=args.segments,
        val_segments=args.val_segments, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        speech_suppression=args.speech_suppression_weight, seed=args.seed, threads=args.threads,
        stage=replace(base.stage, channels=args.channels, kernel=args.kernel, layers=args.layers, bands=args.bands, top_hz=args.top_hz),
    )  # fmt: skip
    try:
        path = train_high_band(cfg)
    except (ValueError, FileNotFoundError) as err:
        return fatal(str(err))
    print(f"high-band stage written to {path}")
    return 0


def _check_train_high_band(args: argparse.Namespace) -> str | None:
    """What is wrong with ``vqdsp train-high-band``'s options taken together; the stage's own checks name its flags."""
    try:
        HighBandConfig(channels=args.channels, kernel=args.kernel, layers=args.layers, bands=args.bands, top_hz=args.top_hz)
    except BadValue as err:
        return f"argument --{err.name.replace('_', '-')}: {err.requirement}"
    if args.sample_rate < 2 * args.top_hz:
        return f"argument --sample-rate: must be at least twice --top-hz ({2 * args.top_hz:g} Hz), got {args.sample_rate}"
    return ordered(args.snr_db, "--snr-db")


def _add_train_high_band(sub: argparse._SubParsersAction) -> None:
    channels, kernel, layers, bands, top_hz = HIGH_BAND_STAGE
    p = sub.add_parser("train-high-band", help="train the high-band stage (16 kHz and up) on wide-band speech",
                       formatter_class=HelpFormatter,
                       description="Train the stage that sets the gains above the model's Nyquist on wide-band clean speech "
                                   "(e.g. the G.722 corpus of scripts/fetch_corpus.sh), the model frozen (needs vqdsp[train]).")
    p.add_argument("data", nargs="+", help="folders of wide-band clean speech; each sub-folder is a speaker")
    p.add_argument("-o", "--out", default="runs/high-band", help="run folder for the stage, its history and figure")
    p.add_argument("-m", "--model", default="default", type=MODEL, help="the model whose gains the stage reads (name or file)")
    p.add_argument("--validation-speaker", action="append", help="speaker (sub-folder) to hold out; repeatable (default: 10%% of the speakers)")
    p.add_argument("--sample-rate", type=whole_number(16000, 384000), default=16000, help="rate the speech is read and mixed at, in Hz")
    p.add_argument("--snr-db", nargs=2, type=SNR_DB, default=list(TRAIN_SNR_DB), metavar=("LOW", "HIGH"), help="SNR range in dB")
    p.add_argument("--noise-dir", action="append", help="folder of full-band recorded noise to mix in; repeatable")
    p.add_argument("--music-dir", action="append", help="folder of full-band music to mix in as noise; repeatable")
    p.add_argument("--validation-noise", action="append", help="recorded noise (file or folder) held out of training for validation; repeatable")
    p.add_argument("--validation-music", action="append", help="music (file or folder) held out of training for validation; repeatable")
    p.add_argument("--segments", type=COUNT, default=3000, help="training pairs (1 s each) made before training")
    p.add_argument("--val-segments", type=COUNT, default=300, help="validation pairs from the held-out speakers")
    p.add_argument("--steps", type=COUNT, default=3000, help="optimiser steps")
    p.add_argument("--batch-size", type=COUNT, default=32, help="pairs per step")
    p.add_argument("--lr", type=LEARNING_RATE, default=2e-3, help="AdamW learning rate (cosine-annealed to 1%%)")
    p.add_argument("--speech-suppression-weight", type=WEIGHT, default=1.0, help="extra L1 weight on suppressed speech")
    p.add_argument("--channels", type=whole_number(1, MAX_CHANNELS), default=channels, help="width of the stage's temporal convolutions")
    p.add_argument("--kernel", type=whole_number(1, MAX_KERNEL), default=kernel, help="frames each convolution sees (odd)")
    p.add_argument("--layers", type=whole_number(1, MAX_LAYERS), default=layers, help="convolutions before the output layer")
    p.add_argument("--bands", type=whole_number(1, MAX_BANDS), default=bands, help="ERB-spaced bands with their own gain, from the model's Nyquist to --top-hz")
    p.add_argument("--top-hz", type=number(0.0, 192000.0, low_open=True), default=top_hz,
                   help="top of the learned bands, in Hz (the gain above is held); audio below twice it keeps the old rule")
    p.add_argument("--seed", type=SEED, default=0, help="random seed")
    p.add_argument("--threads", type=THREADS, default=0, help="torch CPU threads (0: torch's default)")
    p.set_defaults(run=_train_high_band, check=_check_train_high_band, parser=p)
