"""``vqdsp denoise``: one file through the shipped (or a given) model."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vqdsp.arguments import device, number
from vqdsp.model.backends import BACKENDS

if TYPE_CHECKING:
    from vqdsp.audio.files import AudioInfo
from vqdsp.cli.common import (
    EXAMPLE,
    EXAMPLE_OUTPUT,
    MODEL,
    PARTNER,
    READABLE,
    STAGE,
    WRITABLE,
    HelpFormatter,
    Terminated,
    fatal,
    none_arg,
    positive_int,
    sigterm_raises,
)


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
                               threads=args.threads, high_band=none_arg(args.high_band), backend=args.backend,
                               partner=none_arg(args.partner))
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
                   "fast, v1 (default: by the file's rate: default below 16 kHz, wideband from 16 kHz)")
    p.add_argument("--high-band", default="default", metavar="STAGE", type=STAGE,
                   help="stage that denoises above the model's band (from just under its Nyquist): default (the model's shipped stage), "
                        "none, or a .safetensors file (default: default)")
    p.add_argument("--partner", default="auto", metavar="MODEL", type=PARTNER,
                   help="second model whose gain is averaged with the model's below 3.8 kHz, from 16 kHz audio up: auto (the model's "
                        "shipped partner: default for wideband, none for the others), none, a shipped model or a .safetensors file "
                        "(default: auto)")
    p.add_argument("-v", "--verbose", action="store_true", help="say which model, partner and high-band stage run at the file's rate")
    p.add_argument("--attenuation-limit-db", type=number(0.0, 200.0, low_open=True, inf=True), default=float("inf"),
                   help="deepest noise suppression, in dB; 20-30 keeps a natural floor (default: no limit)")
    p.add_argument("--mix", type=number(0.0, 1.0), default=1.0, help="wet fraction, 0 (dry) to 1 (fully denoised)")
    p.add_argument("--device", default="cpu", type=device, help="torch device for the model, e.g. cpu or cuda")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads of the denoiser (VQDenoise's threads)")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="what runs the model: torch, or onnxruntime (CPU, needs vqdsp[onnx]; the same output to 1e-4, faster)")
    p.add_argument("-f", "--force", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(run=_denoise)
