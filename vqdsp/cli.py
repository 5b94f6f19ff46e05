"""The ``vqdsp`` command: denoise a file, master a batch, evaluate denoisers, train a model, export it to ONNX.

Every sub-command's parser lives here and imports nothing heavy: ``--help``, ``--version`` and
argument errors answer without importing torch. The modules that do the work are imported
only when a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vqdsp import __version__
from vqdsp.arguments import Parser, device, number, ordered, subtype, text, whole_number
from vqdsp.checks import BadValue
from vqdsp.extras import extra_for, install_hint
from vqdsp.model.config import MAX_CHANNELS, MAX_CODEBOOK_SIZE, MAX_NPERSEG, ModelConfig, StftConfig
from vqdsp.model.high_band_config import MAX_BANDS, MAX_KERNEL, MAX_LAYERS, HighBandConfig

if TYPE_CHECKING:
    from vqdsp.audio.files import AudioInfo
    from vqdsp.mastering.presets import Preset

EXAMPLE = Path(__file__).parent / "example_audio" / "noisy_speech.wav"
EXAMPLE_OUTPUT = Path("out") / "noisy_speech.denoised.wav"  # relative to the working directory
WRITABLE = (".wav", ".flac", ".ogg", ".aiff", ".mp3")
READABLE = "WAV, FLAC, OGG, AIFF, MP3 or M4A"

# Defaults shown in --help that belong to modules importing torch or numpy; tests/test_cli.py
# checks that they still match those modules.
EVAL_SYSTEMS = ("noisy", "model", "noisereduce", "rnnoise", "deepfilternet3", "gtcrn")  # vqdsp.evaluation.systems.SYSTEMS
EVAL_NOISE = ("white", "pink", "babble")  # vqdsp.evaluation.evaluate.NoiseRecipe
EVAL_SNR_DB = (0.0, 5.0, 10.0)
TRAIN_NOISE = ("white", "pink", "brown", "hum", "babble", "clicks", "keyboard", "modulated", "fan")  # vqdsp.training.data.NoiseMix
TRAIN_SNR_DB = (-5.0, 20.0)
NOISE_TYPES = ("white", "pink", "brown", "hum", "babble", "recorded", "music", "clicks", "keyboard", "modulated", "fan")  # vqdsp.training.noise
CONDITION_TYPES = (*NOISE_TYPES, "reverb", "channel")  # vqdsp.evaluation.evaluate.CONDITION_TYPES
PRESETS = ("speech",)  # vqdsp.mastering.presets.BUILTIN
MIN_RATE, MAX_RATE = 1000, 384000  # vqdsp.audio.effect.MIN_SAMPLE_RATE, MAX_SAMPLE_RATE
HIGH_BAND_STAGE = (32, 5, 3, 8, 8000.0)  # channels, kernel, layers, bands, top_hz of vqdsp.model.high_band.HighBandConfig
EXTRA_OF_COMMAND = {"eval": "eval", "train": "train", "train-high-band": "train", "master": "ray", "export-onnx": "onnx"}


def high_band_arg(value: str) -> str | None:
    """``--high-band``'s value as ``VQDenoise`` takes it (``none``: no stage)."""
    return None if value == "none" else value


SNR_DB = number(-100.0, 100.0)  # beyond this a mixture is all speech or all noise, to float32's precision
SEED = whole_number(0, 2**32 - 1)
COUNT = whole_number(1)
THREADS = whole_number(0, 4096)
WEIGHT = number(0.0, 1e6)
LEARNING_RATE = number(0.0, 10.0, low_open=True)
STAGE = text("default, none or a .safetensors file")
MODEL = text("a shipped model's name or a .safetensors file")


def fatal(message: str) -> int:
    """Print ``message`` as an error of the ``vqdsp`` command; returns the exit status, 1."""
    print(f"vqdsp: error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message holds
    return 1


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with each option's default added to its help unless the help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or not action.option_strings or default is None or default is False or default == argparse.SUPPRESS:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


positive_int = whole_number(1)
"""argparse type: a whole number >= 1."""


# -- denoise ----------------------------------------------------------------------------------
def _denoise_paths(args: argparse.Namespace) -> tuple[Path, Path, bool]:
    """``(source, target, overwrite)``, or a ValueError that names what is wrong (the input first)."""
    if args.input is None:  # the bundled example: its output is ours to replace
        target = Path(args.output) if args.output else EXAMPLE_OUTPUT
        return EXAMPLE, target, args.force or not args.output
    source = Path(args.input)
    _check_name(source, "INPUT")
    if source.is_dir():
        raise ValueError(f"{source} is a folder; give one audio file (`vqdsp master` takes folders)")
    if not source.exists():
        raise ValueError(f"no such file: {source}")
    if not source.is_file():
        raise ValueError(f"{source} is not a regular file (a FIFO, socket or device); give an audio file")
    if not os.access(source, os.R_OK):
        raise ValueError(f"cannot read {source}: permission denied (check its permissions, e.g. chmod u+r)")
    target = Path(args.output) if args.output else source.with_name(f"{source.stem}.denoised{source.suffix}")
    return source, target, args.force


def _check_name(path: Path, what: str) -> None:
    """A ValueError when ``path``'s file name is longer than a file system takes (it could not be created or opened)."""
    from vqdsp.atomic import NAME_MAX

    size = len(os.fsencode(path.name))
    if size > NAME_MAX:
        hint = "give a shorter -o OUTPUT" if what == "OUTPUT" else "rename the file"
        raise ValueError(f"the {what} name {path.name[:40]}... is {size} bytes, longer than the {NAME_MAX} a file name may have; {hint}")


def _check_readable(source: Path) -> AudioInfo:
    from vqdsp.audio.files import open_audio

    try:
        with open_audio(source) as (info, _):
            return info
    except (OSError, ValueError, RuntimeError):
        raise ValueError(f"cannot read {source}: not an audio file ({READABLE})") from None


def _check_target(source: Path, target: Path, overwrite: bool, info: AudioInfo) -> None:
    from vqdsp.audio.files import check_writable, output_format

    _check_name(target, "OUTPUT")
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError(f"refusing to write over the input {source}; choose another -o OUTPUT")
    formats = ", ".join(WRITABLE)
    if not target.suffix:
        raise ValueError(f"{target} has no extension to choose its format by; give -o OUTPUT ending in one of {formats}")
    try:
        fmt = output_format(target)
    except ValueError:
        raise ValueError(f"cannot write {target}: vqdsp writes {formats}; give -o OUTPUT ending in one of them") from None
    if target.is_dir():
        raise ValueError(f"-o {target} is a folder; give a file name, e.g. {target / source.name}")
    if not target.parent.is_dir() and target != EXAMPLE_OUTPUT:
        raise ValueError(f"no folder {target.parent} to write {target.name} into; create it first")
    if target.exists() and not overwrite:
        raise ValueError(f"{target} exists; add --force to replace it")
    check_writable(target, fmt, info.sample_rate, info.channels)


class Terminated(BaseException):
    """SIGTERM arrived (``kill``, ``timeout``): raised in the main thread so that temporaries are removed on the way out
    (a BaseException, like KeyboardInterrupt: no ``except Exception`` that reports one bad file swallows it)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within: SIGTERM raises :class:`Terminated` (like Ctrl-C's KeyboardInterrupt), so ``finally`` blocks clean up."""
    import signal

    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _denoise(args: argparse.Namespace) -> int:
    try:
        source, target, overwrite = _denoise_paths(args)
        info = _check_readable(source)
        _check_target(source, target, overwrite, info)
    except (OSError, ValueError) as err:
        return fatal(str(err))
    from vqdsp.atomic import clean_stale
    from vqdsp.audio.effect import VQDenoise
    from vqdsp.audio.files import process_file
    from vqdsp.mastering.records import folder_problem

    try:
        with sigterm_raises():
            effect = VQDenoise(attenuation_limit_db=args.attenuation_limit_db, mix=args.mix, model=args.model, device=args.device,
                               threads=args.threads, high_band=high_band_arg(args.high_band))
            if args.verbose:
                print(f"{source}: {info.sample_rate} Hz, {info.channels} channel(s): {effect.describe_at(info.sample_rate)}")
            target.parent.mkdir(parents=True, exist_ok=True)
            clean_stale({target.parent})  # what killed runs left
            process_file(effect, source, target, overwrite=overwrite)
    except KeyboardInterrupt:
        print(f"vqdsp: interrupted; {target} was not written", file=sys.stderr)
        return 130
    except Terminated:
        print(f"vqdsp: terminated; {target} was not written", file=sys.stderr)
        return 143
    except (OSError, ValueError, RuntimeError) as err:  # RuntimeError: libsndfile's, e.g. "System error." on a full disk
        return fatal(folder_problem(target.parent, err) or str(err))
    print(f"wrote {target}")
    return 0


def _add_denoise(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("denoise", help="denoise one audio file", formatter_class=HelpFormatter,
                       description="Denoise one audio file; the output keeps its rate, channels, length and sample format.")
    p.add_argument("input", nargs="?", help=f"audio file to clean ({READABLE}; default: a bundled noisy example)")
    p.add_argument("-o", "--output", help=f"output file; its extension picks the format ({', '.join(WRITABLE)}) "
                   f"(default: INPUT.denoised.EXT beside the input; for the bundled example {EXAMPLE_OUTPUT}, replaced on every run)")
    p.add_argument("-m", "--model", type=MODEL, help="model .safetensors (its .json beside it), or a shipped model: default (8 kHz), wideband (16 kHz), "
                   "fast, v1 (default: by the file's rate: default below 40 kHz, wideband for 44.1/48 kHz)")
    p.add_argument("--high-band", default="default", metavar="STAGE", type=STAGE,
                   help="stage that denoises above the model's band (from just under its Nyquist): default (the model's shipped stage), "
                        "none, or a .safetensors file (default: default)")
    p.add_argument("-v", "--verbose", action="store_true", help="say which model and high-band stage run at the file's rate")
    p.add_argument("--attenuation-limit-db", type=number(0.0, 200.0, low_open=True, inf=True), default=float("inf"),
                   help="deepest noise suppression, in dB; 20-30 keeps a natural floor (default: no limit)")
    p.add_argument("--mix", type=number(0.0, 1.0), default=1.0, help="wet fraction, 0 (dry) to 1 (fully denoised)")
    p.add_argument("--device", default="cpu", type=device, help="torch device for the model, e.g. cpu or cuda")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads of the denoiser (VQDenoise's threads)")
    p.add_argument("-f", "--force", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(run=_denoise)


# -- train ------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from vqdsp.training.data import NoiseMix, SpeechAugmentation
    from vqdsp.training.losses import LossWeights
    from vqdsp.training.train import TrainConfig, init_distributed, train

    init_distributed()
    cfg = TrainConfig(
        data=args.data, out=args.out, validation_speakers=args.validation_speaker or [],
        noise=NoiseMix(types=tuple(args.noise), snr_db=tuple(args.snr_db), second_noise=args.second_noise),
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
        sample_rate=args.sample_rate, noise=replace(base.noise, snr_db=tuple(args.snr_db)), segments=args.segments,
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


# -- eval -------------------------------------------------------------------------------------
def _eval(args: argparse.Namespace) -> int:
    from vqdsp.evaluation.evaluate import NoiseRecipe, evaluate
    from vqdsp.evaluation.systems import build_systems

    try:
        systems, notes = build_systems(args.systems, args.model, [high_band_arg(h) for h in args.high_band or ["default"]])
        for note in notes:
            print(f"vqdsp: note: {note}")
        recipe = None if args.noisy else NoiseRecipe(tuple(args.noise), tuple(args.snr_db), args.seed)
        result = evaluate(
            args.clean, args.out, systems, noisy=args.noisy, recipe=recipe, babble_dirs=args.babble_dir or [],
            music_dirs=args.music_dir or [], noise_dirs=args.noise_dir or [], sample_rate=args.sample_rate, limit=args.limit, examples=args.examples, max_delay_ms=args.max_delay_ms,
            overwrite=args.force, progress=not args.quiet, notes=notes,
        )
    except (OSError, ValueError) as err:
        return fatal(str(err))
    print(result.markdown)
    print(f"wrote {result.out_dir}")
    return 0


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score denoisers on clean speech made noisy (STOI, PESQ, SI-SDR, NSR)", formatter_class=HelpFormatter,
                       description="Score denoisers on clean speech made noisy (needs vqdsp[eval]; the peers: vqdsp[peers]).")
    p.add_argument("clean", nargs="+", help="folders or files of clean speech")
    p.add_argument("-o", "--out", default="out/eval", help="folder for tables, figures and examples")
    p.add_argument("--noisy", help="folder of noisy recordings paired with CLEAN by path or name (instead of --noise)")
    p.add_argument("--noise", nargs="+", default=list(EVAL_NOISE), choices=CONDITION_TYPES, metavar="TYPE",
                   help="conditions: noise types to mix in, or reverb (a room, scored against the reverberant speech) "
                        "or channel (a GSM phone line); white pink brown hum babble music clicks keyboard modulated fan reverb channel")
    p.add_argument("--snr-db", nargs="+", type=SNR_DB, default=list(EVAL_SNR_DB), help="SNRs to mix at, in dB")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the noise")
    p.add_argument("--babble-dir", action="append", help="speech of other talkers for babble noise; repeatable (default: the clean set's other speakers' files)")
    p.add_argument("--music-dir", action="append", help="music for music noise (tracks never used in training); repeatable")
    p.add_argument("--noise-dir", action="append", help="noise recordings for 'recorded' noise (never used in training); repeatable")
    p.add_argument("--systems", nargs="+", default=list(EVAL_SYSTEMS), choices=EVAL_SYSTEMS,
                   help="systems to compare (default: all; a missing optional one is skipped)")
    p.add_argument("-m", "--model", action="append", type=MODEL, help="model .safetensors for 'model' (default: the shipped one); repeatable")
    p.add_argument("--high-band", action="append", metavar="STAGE", type=STAGE,
                   help="high-band stage for 'model' (default, none, or a .safetensors file); repeatable: one system per model and stage (default: default)")
    p.add_argument("--limit", type=COUNT, help="score at most N clean files, spread over the list (default: all)")
    p.add_argument("--examples", type=whole_number(0), default=3, help="examples to save as WAVs and spectrogram figures")
    p.add_argument("--sample-rate", type=whole_number(MIN_RATE, MAX_RATE), default=8000, help="rate to read, denoise and score at, in Hz")
    p.add_argument("--max-delay-ms", type=number(0.0, 10000.0), default=0.0, help="undo a constant delay of outputs up to this, in ms")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-f", "--force", action="store_true", help="replace an earlier evaluation in --out")
    p.set_defaults(run=_eval)


# -- master -----------------------------------------------------------------------------------
def _master(args: argparse.Namespace) -> int:
    from vqdsp.mastering.master import AUDIO_SUFFIXES, REPORT_NAME, master, plan_jobs
    from vqdsp.mastering.presets import BUILTIN, PresetError, load_preset

    if args.show_preset:
        if args.show_preset not in BUILTIN:
            return fatal(f"no built-in preset {args.show_preset!r}; choose from {', '.join(sorted(BUILTIN))}")
        print(BUILTIN[args.show_preset], end="")
        return 0
    if not args.inputs or not args.output_dir:
        return fatal("give INPUTS and -o OUTPUT_DIR, e.g. vqdsp master recordings/ -o mastered/")
    try:
        preset = load_preset(args.preset)
        if args.threads:
            preset = with_threads(preset, args.threads, args.jobs)
        preset.build()  # every effect and parameter checked before any file is touched
        jobs = plan_jobs(args.inputs, args.output_dir, args.subtype)
        if args.subtype:
            _check_subtype([Path(job.target) for job in jobs], args.subtype)
    except (PresetError, OSError, ValueError) as err:  # OSError: e.g. a name longer than the file system takes
        return fatal(str(err))
    if not jobs:
        return fatal(f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in {' '.join(args.inputs)}")
    try:
        with sigterm_raises():
            reports = master(
                jobs, preset, args.output_dir, workers=args.jobs, backend=args.backend, overwrite=args.overwrite,
                ray_address=args.ray_address, progress=False if args.no_progress else None,
            )
    except (KeyboardInterrupt, Terminated) as err:
        word = "interrupted" if isinstance(err, KeyboardInterrupt) else "terminated"
        print(f"vqdsp: {word}; finished files are in place, run the same command again to do the rest", file=sys.stderr)
        return 130 if isinstance(err, KeyboardInterrupt) else 143
    except (OSError, ValueError) as err:  # e.g. records.OutputError: the report cannot be written
        return fatal(str(err))
    counts = {s: sum(r.status == s for r in reports) for s in ("done", "skipped", "failed")}
    print(f"{counts['done']} mastered, {counts['skipped']} skipped (output exists), {counts['failed']} failed; "
          f"report: {Path(args.output_dir) / (REPORT_NAME + '.json')}")
    return 1 if counts["failed"] else 0


def with_threads(preset: Preset, threads: int, jobs: int) -> Preset:
    """``preset`` with its ``VQDenoise`` effects set to ``threads`` split between ``jobs`` workers (at least 1 each)."""
    from dataclasses import replace

    from vqdsp.mastering.presets import EffectSpec

    each = max(1, threads // jobs)
    effects = tuple(EffectSpec(e.name, {**e.params, "threads": each}) if e.name == "VQDenoise" else e for e in preset.effects)
    return replace(preset, effects=effects)


def _check_subtype(targets: Sequence[Path], subtype: str) -> None:
    import soundfile as sf

    from vqdsp.audio.files import output_format

    for target in targets:
        fmt = output_format(target)
        if not sf.check_format(fmt, subtype):
            takes = [s for s in sf.available_subtypes(fmt) if sf.check_format(fmt, s)]
            raise ValueError(f"--subtype {subtype} cannot be written as {fmt} ({target}); {fmt} takes {', '.join(takes)}, "
                             "or leave --subtype out to keep each input's")


def _add_master(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("master", help="denoise and level many recordings (files, folders, globs) with a preset", formatter_class=HelpFormatter,
                       description="Denoise and level many recordings with a preset; re-running resumes (existing outputs are skipped).")
    p.add_argument("inputs", nargs="*", help="audio files, folders (searched recursively) or glob patterns")
    p.add_argument("-o", "--output-dir", help="folder for the results; input folder layouts are mirrored inside it")
    p.add_argument("--preset", default="speech", type=text("a built-in preset's name or a .toml file"), help=f"built-in preset ({', '.join(PRESETS)}) or a preset .toml file")
    p.add_argument("-j", "--jobs", type=positive_int, default=1, help="files processed at once (processes or Ray tasks)")
    p.add_argument("--threads", type=positive_int,
                   help="CPU threads of the denoiser in all, split between --jobs (default: the preset's VQDenoise threads)")
    p.add_argument("--backend", choices=("pool", "ray"), default="pool", help="local process pool, or Ray tasks on a Ray cluster (needs vqdsp[ray])")
    p.add_argument("--ray-address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray instance)")
    p.add_argument("--subtype", type=subtype, help="output sample format for every file, e.g. PCM_16, PCM_24, FLOAT (default: each input's)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: skip them, i.e. resume)")
    p.add_argument("--show-preset", metavar="NAME", help="print a built-in preset's TOML (a starting point for your own) and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_master)


# -- export-onnx ------------------------------------------------------------------------------
def _export_onnx(args: argparse.Namespace) -> int:
    from vqdsp.model.export import export_onnx

    try:
        done = export_onnx(args.output, args.model, overwrite=args.force)
    except (OSError, ValueError) as err:
        return fatal(str(err))
    print(f"wrote {done.onnx_path} and {done.spec_path}")
    return 0


def _add_export_onnx(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-onnx", help="write the model as an ONNX graph (log-magnitude in, log-gain out) and its transform's JSON",
                       formatter_class=HelpFormatter, description="Write the gain network as an ONNX graph for onnxruntime (needs "
                       "vqdsp[onnx]), and OUT.json beside it: the STFT, segments and gain rule a host must apply around it.")
    p.add_argument("output", metavar="OUT.onnx", help="the graph to write; OUT.json goes beside it")
    p.add_argument("-m", "--model", type=MODEL, help="model .safetensors (its .json beside it), or a shipped model: default, wideband, fast, v1 (default: default)")
    p.add_argument("-f", "--force", action="store_true", help="replace OUT.onnx and OUT.json if they exist")
    p.set_defaults(run=_export_onnx)


# -- the command ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``vqdsp`` parser with every sub-command; building it imports nothing heavy."""
    parser = Parser(prog="vqdsp", description="Speech denoising with a VQ-VAE SE-U-Net.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_denoise(sub)
    _add_master(sub)
    _add_eval(sub)
    _add_train(sub)
    _add_train_high_band(sub)
    _add_export_onnx(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vqdsp`` with ``argv`` (default: the command line); returns the exit status."""
    args = build_parser().parse_args(argv)
    problem = args.check(args) if hasattr(args, "check") else None
    if problem:
        args.parser.error(problem)
    try:
        return args.run(args)
    except ModuleNotFoundError as err:  # an optional dependency: name the extra that brings it
        extra = extra_for(err.name, EXTRA_OF_COMMAND.get(args.command))
        if extra is None:
            raise
        return fatal(f"vqdsp {args.command}: {install_hint(err.name or '', extra)}")


if __name__ == "__main__":
    sys.exit(main())
