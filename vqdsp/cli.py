"""The ``vqdsp`` command: denoise a file, train a model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vqdsp.evaluation.evaluate import add_eval_parser
from vqdsp.mastering.master import add_master_parser

EXAMPLE = Path(__file__).parent / "examples" / "noisy_speech.wav"


def fatal(message: str) -> int:
    print(f"vqdsp: error: {message}", file=sys.stderr)
    return 1


def _denoise(args: argparse.Namespace) -> int:
    from vqdsp.audio.effect import VQDenoise
    from vqdsp.audio.files import process_file

    source = Path(args.input) if args.input else EXAMPLE
    target = Path(args.output) if args.output else source.with_name(f"{source.stem}.denoised{source.suffix}")
    if not args.output and not args.input:
        target = Path.cwd() / f"{source.stem}.denoised{source.suffix}"
    try:
        effect = VQDenoise(attenuation_limit_db=args.attenuation_limit_db, mix=args.mix, model=args.model, device=args.device)
        process_file(effect, source, target, overwrite=args.force)
    except (OSError, ValueError) as err:
        return fatal(str(err))
    print(f"wrote {target}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from vqdsp.model.config import ModelConfig
    from vqdsp.training.data import NoiseMix, SpeechAugmentation
    from vqdsp.training.losses import LossWeights
    from vqdsp.training.train import TrainConfig, init_distributed, train

    init_distributed()
    cfg = TrainConfig(
        data=args.data, out=args.out, validation_speakers=args.validation_speaker or [],
        noise=NoiseMix(types=tuple(args.noise), snr_db=tuple(args.snr_db), second_noise=args.second_noise),
        noise_dirs=args.noise_dir or [], music_dirs=args.music_dir or [], validation_music=args.validation_music or [],
        augment=SpeechAugmentation.robust() if args.augment == "robust" else SpeechAugmentation(),
        loss=LossWeights(si_sdr=args.si_sdr_weight, multi_resolution=args.multi_resolution_weight,
                         speech_suppression=args.speech_suppression_weight),
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, eval_every=args.eval_every,
        val_segments=args.val_segments, val_utterances=args.val_utterances, seed=args.seed, threads=args.threads,
        max_minutes=args.max_minutes,
    )
    model_cfg = ModelConfig(channels=tuple(args.channels), codebook_size=args.codebook_size)
    try:
        final = train(cfg, model_cfg, resume=args.resume)
    except (FileExistsError, ValueError, FileNotFoundError) as err:
        return fatal(str(err))
    print(f"model written to {final}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vqdsp", description="Speech denoising with a VQ-VAE SE-U-Net.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("denoise", help="denoise one audio file")
    p.add_argument("input", nargs="?", help="audio file to clean (default: a bundled noisy example)")
    p.add_argument("-o", "--output", help="output file (default: INPUT.denoised.EXT beside the input)")
    p.add_argument("-m", "--model", help="model .safetensors (default: the shipped model)")
    p.add_argument("--attenuation-limit-db", type=float, default=float("inf"), help="deepest noise suppression, in dB")
    p.add_argument("--mix", type=float, default=1.0, help="wet fraction, 0 (dry) to 1 (fully denoised)")
    p.add_argument("--device", default="cpu", help="torch device for the model, e.g. cpu or cuda")
    p.add_argument("-f", "--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.set_defaults(run=_denoise)

    p = sub.add_parser("train", help="train a model on folders of clean speech")
    p.add_argument("data", nargs="+", help="folders of clean speech; each sub-folder is a speaker")
    p.add_argument("-o", "--out", default="runs/default", help="run folder for checkpoints, logs and the model")
    p.add_argument("--validation-speaker", action="append", help="speaker (sub-folder) to hold out; repeatable")
    p.add_argument("--noise", nargs="+", default=["white", "pink", "brown", "hum", "babble", "clicks", "keyboard", "modulated", "fan"], help="noise types (default: %(default)s)")
    p.add_argument("--noise-dir", action="append", help="folder of recorded noise to mix in; repeatable")
    p.add_argument("--music-dir", action="append", help="folder of music to mix in as noise; repeatable")
    p.add_argument("--validation-music", action="append", help="music file or folder held out for validation; repeatable")
    p.add_argument("--second-noise", type=float, default=0.3, help="probability of a second noise at once (default: %(default)s)")
    p.add_argument("--augment", choices=["robust", "none"], default="robust",
                   help="clean-speech augmentation: speed, room, microphone EQ, band limit, codec (default: %(default)s)")
    p.add_argument("--si-sdr-weight", type=float, default=0.02, help="weight of the waveform SI-SDR loss (default: %(default)s)")
    p.add_argument("--multi-resolution-weight", type=float, default=0.0, help="weight of the multi-resolution STFT loss (default: %(default)s)")
    p.add_argument("--speech-suppression-weight", type=float, default=1.0,
                   help="extra L1 weight on suppressed speech (default: %(default)s)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop cleanly after this wall time; --resume continues (0: no limit)")
    p.add_argument("--snr-db", nargs=2, type=float, default=[-5.0, 20.0], metavar=("LOW", "HIGH"), help="SNR range in dB")
    p.add_argument("--steps", type=int, default=20000, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=16, help="segments per step (per process)")
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate")
    p.add_argument("--eval-every", type=int, default=200, help="steps between validation and checkpoints")
    p.add_argument("--val-segments", type=int, default=64, help="segments in the fixed validation set (loss)")
    p.add_argument("--val-utterances", type=int, default=6, help="held-out utterances scored with PESQ/STOI per epoch (0: none)")
    p.add_argument("--channels", nargs="+", type=int, default=[16, 32, 64, 96], help="channels per U-Net level (default: %(default)s)")
    p.add_argument("--codebook-size", type=int, default=256, help="codes in the bottleneck quantizer")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0: default)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.set_defaults(run=_train)

    add_eval_parser(sub)
    add_master_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
