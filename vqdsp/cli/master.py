"""``vqdsp master``: a batch of files through a preset."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vqdsp.arguments import subtype, text

if TYPE_CHECKING:
    from vqdsp.mastering.presets import Preset
from vqdsp.cli.common import (
    PRESETS,
    HelpFormatter,
    Terminated,
    fatal,
    positive_int,
    sigterm_raises,
)


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
