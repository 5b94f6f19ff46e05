"""``vqdsp export-onnx``: the gain network as an ONNX graph."""

from __future__ import annotations

import argparse

from vqdsp.cli.common import (
    MODEL,
    HelpFormatter,
    fatal,
)


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
