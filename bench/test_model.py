"""The model alone: forward time of the shipped SE-U-Net per second of audio, by device and precision.

Each group runs one batch of 1 s segments (``[B, 260, 260]`` log-magnitudes at 8 kHz) through the
default model; float32 (contiguous) is the reference the other variants of the group compare with.
bfloat16 runs under CPU/CUDA autocast; a variant the model or the device cannot run is skipped
with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vqdsp.audio.stft import log_magnitude, stft
from vqdsp.model.checkpoint import load_model

from utils import is_quick, record

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))]
VARIANTS = ["float32", "channels_last", "bfloat16", "folded", "fast", "fast folded", "v1", "v1 folded"]
OTHER_MODELS = ("fast", "v1")  # variants named after them run that shipped model (v2, v1) instead of the default (v3)
BATCH = 16  # vqdsp.Denoiser's default batch of segments


def _model_name(variant: str) -> str | None:
    name = variant.split()[0]
    return name if name in OTHER_MODELS else None


@pytest.fixture(scope="module")
def log_mags(request: pytest.FixtureRequest) -> np.ndarray:
    from utils import speech_plus_noise

    model_stft = load_model().config.stft
    batch = 1 if is_quick(request.config) else BATCH
    audio = speech_plus_noise(batch * model_stft.segment_samples / model_stft.sample_rate)
    segments = audio.reshape(batch, model_stft.segment_samples)
    return log_magnitude(stft(segments, model_stft), model_stft)


def _forward_fn(variant: str, device: str, x: torch.Tensor):
    model = load_model(_model_name(variant), device=device)
    if variant.endswith("folded"):
        model = model.for_inference()  # batch norm folded into the convolutions, as VQDenoise runs it
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward() -> torch.Tensor:
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=variant == "bfloat16"):
            gain = model(x).log_gain
        if device == "cuda":
            torch.cuda.synchronize()
        return gain

    return forward


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("device", DEVICES)
def test_model_forward(benchmark, log_mags: np.ndarray, device: str, variant: str) -> None:
    benchmark.group = f"model forward ({device})"
    x = torch.from_numpy(log_mags).to(device)
    forward = _forward_fn(variant, device, x)
    try:
        reference = _forward_fn(_model_name(variant) or "float32", device, x)()
        gain = forward()  # also the warm-up
    except (RuntimeError, TypeError, NotImplementedError) as err:
        pytest.skip(f"{variant} on {device} not supported by the model: {err}")
    seconds = len(log_mags)  # one 1 s segment per batch entry
    record(
        benchmark, f"vqdsp SEUNet {variant}", device, variant=variant, input_shape=list(log_mags.shape), audio_seconds=seconds,
        reference="vqdsp SEUNet float32", max_abs_diff_db=float((gain.float() - reference).abs().max()) * 20 / np.log(10),
    )
    benchmark.pedantic(forward, rounds=5, warmup_rounds=0, iterations=1)
    assert gain.shape == x.shape


# ---- the forward against the CPU's peak, on one thread (as VQDenoise runs it) ------------------------------
PER_THREAD = ["batch 1", "batch 2", "batch 4", "batch 8", "batch 16", "batch 4, channels_last", "batch 4, torch.compile"]
GEMM_ROW = "fp32 GEMM 1024 (practical peak)"


@pytest.fixture(scope="module")
def peak_facts() -> dict[str, float | str]:
    from vqdsp.audio.threads import torch_threads

    from peak import cpu_peak, gemm_gflops

    peak = cpu_peak()
    with torch_threads(1):
        practical = gemm_gflops()
    return {"isa": peak.isa, "clock_ghz": peak.clock_ghz, "nominal_peak_gflops": round(peak.nominal_gflops, 1),
            "practical_peak_gflops": round(practical, 1)}


@pytest.mark.parametrize("variant", [GEMM_ROW, *PER_THREAD])
def test_forward_per_thread(benchmark, request: pytest.FixtureRequest, log_mags: np.ndarray, peak_facts: dict, variant: str) -> None:
    """GFLOP/s of the folded model (as ``Denoiser`` runs it) on one thread, and its share of the core's fp32 peak."""
    from vqdsp.audio.threads import torch_threads

    from peak import GEMM, conv_macs

    benchmark.group = "model forward, one thread (cpu)"
    if variant == GEMM_ROW:
        a, b = torch.randn(GEMM, GEMM), torch.randn(GEMM, GEMM)
        flop = 2 * GEMM**3
        fn = lambda: torch.mm(a, b)  # noqa: E731
        seconds = None
    else:
        batch = int(variant.split(",")[0].split()[1])
        if is_quick(request.config):
            batch = 1
        model = load_model().for_inference()
        x = torch.from_numpy(np.resize(log_mags, (batch, *log_mags.shape[1:])).copy())
        flop = 2 * conv_macs(model, x[:1]) * batch
        if "channels_last" in variant:
            model = model.to(memory_format=torch.channels_last)
        reference = load_model().for_inference()
        if "torch.compile" in variant:
            if is_quick(request.config):
                pytest.skip("torch.compile takes tens of seconds: not in quick mode")
            model = torch.compile(model, dynamic=False)

        @torch.inference_mode()
        def fn() -> torch.Tensor:
            return model(x).log_gain

        seconds = batch
        with torch_threads(1), torch.inference_mode():
            diff = float((fn() - reference(x).log_gain).abs().max())
        benchmark.extra_info["max_abs_diff_log_gain"] = diff

    def timed() -> object:
        with torch_threads(1):
            return fn()

    timed()
    record(benchmark, variant, "cpu", reference="batch 4", **({"audio_seconds": seconds} if seconds else {}), **peak_facts)
    result = benchmark.pedantic(timed, rounds=5, warmup_rounds=1, iterations=1)
    assert result is not None
    if benchmark.stats is not None:  # timings on: GFLOP/s and shares from the median
        gflops = flop / benchmark.stats.stats.median / 1e9
        benchmark.extra_info.update(gflops=round(gflops, 1), share_of_nominal_peak=f"{100 * gflops / peak_facts['nominal_peak_gflops']:.0f}%",
                                    share_of_practical_peak=f"{100 * gflops / peak_facts['practical_peak_gflops']:.0f}%")
