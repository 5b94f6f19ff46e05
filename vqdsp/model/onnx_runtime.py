"""The gain network run by onnxruntime instead of torch: an inference backend for the CPU.

The graph is :mod:`vqdsp.model.export`'s (standard ONNX ops; the bottleneck's nearest-code search
as MatMul + ArgMin + Gather), exported in memory when the backend is chosen, so there is no file
to keep in step with the weights. On the CPU, onnxruntime ran the forward in about half of eager
torch's time (``bench/test_onnx.py``, one thread, batch 4), with the gain within 1e-4 of it
(``tests/test_onnx_runtime.py``). Everything around the forward (transforms, high-band stage,
streaming) stays as it is.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from torch import nn

from vqdsp.extras import require
from vqdsp.model.config import StftConfig
from vqdsp.model.export import INPUT_NAME, OUTPUT_NAME, GainNetwork, export_graph
from vqdsp.model.unet import SEUNet


class OnnxRuntimeGains:
    """``log_magnitude [B, F, T] -> log_gain [B, F, T]`` (float32 numpy) by onnxruntime, for one model.

    One session runs on the calling thread (one intra-op thread): the effect's ``threads`` run that
    many calls at once, as they do torch's forward. ``session.run`` releases the GIL and is safe to
    call from several threads.

    Args:
        model: the model (an :class:`SEUNet`); exported as its batch-norm-folded inference copy.
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, SEUNet):
            raise TypeError(f"the onnxruntime backend runs vqdsp's SEUNet models, got a {type(model).__name__}; use backend='torch'")
        require("onnxruntime", "onnx")
        require("onnx", "onnx")  # torch.onnx.export writes the graph with it
        self.stft: StftConfig = model.config.stft
        graph = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the exporter's notes on constant folding
            export_graph(GainNetwork(model).cpu(), self.stft, graph)  # GainNetwork holds a copy: model stays where it is
        self._graph = graph.getvalue()
        self._session = _session(self._graph)

    def __call__(self, log_mag: np.ndarray) -> np.ndarray:
        out = self._session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(log_mag, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        return {"stft": self.stft, "_graph": self._graph}  # a session is not picklable: rebuilt from the graph

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._session = _session(self._graph)


def _session(graph: bytes) -> Any:
    """An onnxruntime CPU session of ``graph`` that runs on its caller's thread."""
    ort = require("onnxruntime", "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
