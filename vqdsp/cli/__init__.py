"""The ``vqdsp`` command: denoise a file, master a batch, evaluate denoisers, train a model, export it to ONNX.

Every sub-command's parser lives in this package (one module per command) and imports nothing heavy: ``--help``, ``--version`` and
argument errors answer without importing torch. The modules that do the work are imported
only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vqdsp import __version__
from vqdsp.arguments import Parser
from vqdsp.cli.common import (
    CONDITION_TYPES,
    EVAL_NOISE,
    EVAL_SNR_DB,
    EVAL_SYSTEMS,
    EXAMPLE,
    EXAMPLE_OUTPUT,
    EXTRA_OF_COMMAND,
    HIGH_BAND_STAGE,
    NOISE_TYPES,
    PRESETS,
    READABLE,
    TRAIN_NOISE,
    TRAIN_SNR_DB,
    WRITABLE,
    HelpFormatter,
    fatal,
)
from vqdsp.cli.denoise import _add_denoise
from vqdsp.cli.evaluate import _add_eval
from vqdsp.cli.export import _add_export_onnx
from vqdsp.cli.master import _add_master, with_threads
from vqdsp.cli.train import _add_train, _add_train_high_band
from vqdsp.extras import extra_for, install_hint

__all__ = [
    "build_parser",
    "main",
    "with_threads",
    "fatal",
    "HelpFormatter",
    "CONDITION_TYPES",
    "EVAL_NOISE",
    "EVAL_SNR_DB",
    "EVAL_SYSTEMS",
    "EXAMPLE",
    "EXAMPLE_OUTPUT",
    "EXTRA_OF_COMMAND",
    "HIGH_BAND_STAGE",
    "NOISE_TYPES",
    "PRESETS",
    "READABLE",
    "TRAIN_NOISE",
    "TRAIN_SNR_DB",
    "WRITABLE",
]


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
