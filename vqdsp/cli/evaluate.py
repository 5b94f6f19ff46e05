"""``vqdsp eval``: denoisers compared on clean speech made noisy."""

from __future__ import annotations

import argparse

from vqdsp.arguments import number, whole_number
from vqdsp.cli.common import (
    CONDITION_TYPES,
    COUNT,
    EVAL_NOISE,
    EVAL_SNR_DB,
    EVAL_SYSTEMS,
    MAX_RATE,
    MIN_RATE,
    MODEL,
    SEED,
    SNR_DB,
    STAGE,
    HelpFormatter,
    fatal,
    none_arg,
)


# -- eval -------------------------------------------------------------------------------------
def _eval(args: argparse.Namespace) -> int:
    from vqdsp.evaluation.evaluate import NoiseRecipe, evaluate
    from vqdsp.evaluation.systems import build_systems

    try:
        systems, notes = build_systems(args.systems, args.model, [none_arg(h) for h in args.high_band or ["default"]])
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
