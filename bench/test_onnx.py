"""The exported graph (``vqdsp export-onnx``) in onnxruntime against the torch forward it came from, same run.

Each group runs one batch of 1 s segments (``[B, 260, 260]`` log-magnitudes of the shipped default
model, B = 4: the denoiser's batch) through the torch model as vqdsp runs it (batch norm folded,
the fused SE + nearest-code kernel; the reference row) and through the ONNX graph in onnxruntime's
CPU provider (default graph optimisations), both with the group's thread count, so ``time / ref``
is the ratio onnxruntime / torch. Skipped without onnxruntime or onnx (``pip install vqdsp[onnx]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from utils import is_quick, record, speech_plus_noise

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'vqdsp[onnx]')")
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'vqdsp[onnx]')")

BACKENDS = ["torch", "onnxruntime"]
THREADS = [1, 2]
BATCH = 4  # vqdsp.Denoiser's default batch of segments


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vqdsp.model.export import export_onnx

    return export_onnx(tmp_path_factory.mktemp("onnx") / "default.onnx", "default").onnx_path


@pytest.fixture(scope="module")
def log_mags(request: pytest.FixtureRequest) -> np.ndarray:
    from vqdsp.audio.stft import log_magnitude, stft
    from vqdsp.model.checkpoint import load_model

    cfg = load_model().config.stft
    batch = 1 if is_quick(request.config) else BATCH
    segments = speech_plus_noise(batch * cfg.segment_samples / cfg.sample_rate).reshape(batch, cfg.segment_samples)
    return log_magnitude(stft(segments, cfg), cfg)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _forward(backend: str, graph: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    if backend == "onnxruntime":
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {session.get_inputs()[0].name: x})[0]
    from vqdsp.model.checkpoint import load_model

    model = load_model().for_inference()

    @torch.inference_mode()
    def forward(x: np.ndarray) -> np.ndarray:
        with torch_threads(threads):
            return model(torch.from_numpy(x)).log_gain.numpy()

    return forward


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("threads", THREADS)
def test_onnx_forward(benchmark, graph: Path, log_mags: np.ndarray, threads: int, backend: str) -> None:
    benchmark.group = f"onnx vs torch forward (cpu, {threads} thread{'s' if threads > 1 else ''})"
    forward = _forward(backend, graph, threads)
    reference = _forward("torch", graph, threads)(log_mags)
    gain = forward(log_mags)  # also the warm-up
    record(
        benchmark, backend, "cpu", threads=threads, input_shape=list(log_mags.shape), audio_seconds=len(log_mags),
        reference="torch", onnxruntime=ort.__version__, max_abs_diff=float(np.abs(gain - reference).max()),
    )
    benchmark.pedantic(forward, args=(log_mags,), rounds=5, warmup_rounds=1, iterations=1)
    assert gain.shape == log_mags.shape
