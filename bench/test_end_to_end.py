"""End to end: ``VQDenoise`` against noisereduce, RNNoise, DeepFilterNet3 and GTCRN on the same noisy speech, same run.

Each group gives every system the same audio (60 s of speech plus noise, or ``VQDSP_BENCH_SECONDS``; 2 s in quick mode) and
records ``audio_seconds``, so that ``bench/report.py`` can give the real-time factor (audio
seconds / wall seconds) and each row's time relative to vqdsp's default (one thread, one shot).
The peers are the evaluation's wrappers (:mod:`vqdsp.evaluation.systems`); a peer that is not
installed (``pip install vqdsp[bench]``) is skipped. Mono wrappers process a stereo input one
channel at a time. vqdsp also runs with ``threads=2``, with linked channels (stereo only), without
its high-band stage (48 kHz only: the cost of the learned gains above the model's band), with the
8 kHz ``default`` model named (at 48 kHz: the path before the wideband model was chosen by rate),
streamed the way ``vqdsp denoise`` streams a file (10 s chunks, then the flush), so one-shot and
streaming are compared in the same run, and on the audio path before issue 23 (bench/legacy.py: the
model's 16x-overlap transform at the audio's rate, per-frame overlap-add), with its model compiled
(``Denoiser.compile``; the compilation happens in the warm-up call), and on the onnxruntime backend.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vqdsp.model.checkpoint import WIDEBAND_FROM_HZ

from utils import audio_seconds, record, speech_plus_noise

SECONDS = 60.0
QUICK_SECONDS = 2.0
CASES = {"8 kHz mono": (8000, 1), "48 kHz stereo": (48000, 2)}
SYSTEMS = [
    "vqdsp", "vqdsp, before issue 23", "vqdsp, compiled", "vqdsp, onnxruntime", "vqdsp, onnxruntime, 2 threads",
    "vqdsp, streamed", "vqdsp, 2 threads", "vqdsp, linked", "vqdsp, no high band", "vqdsp, no partner", "vqdsp, no partner, 2 threads",
    "vqdsp 8 kHz model", "vqdsp 8 kHz model, 2 threads",
    "vqdsp fast", "vqdsp fast, 2 threads", "vqdsp fast, linked", "vqdsp fast, no high band",
    "noisereduce", "noisereduce-stationary", "rnnoise", "deepfilternet3", "gtcrn",
]
ROUNDS = {"noisereduce": 10, "noisereduce-stationary": 10}  # the fast ones; the others get 3


def _vqdsp(name: str) -> Callable[[np.ndarray, int], np.ndarray]:
    from vqdsp.audio.effect import VQDenoise
    from vqdsp.audio.framing import flush_padding

    if name == "vqdsp, before issue 23":
        from legacy import LegacyDenoise

        return LegacyDenoise()
    effect = VQDenoise(
        model="fast" if name.startswith("vqdsp fast") else "default" if name.startswith("vqdsp 8 kHz model") else None,
        threads=2 if name.endswith(", 2 threads") else 1,
        channel_mode="linked" if name.endswith(", linked") else "independent",
        high_band=None if name.endswith(", no high band") else "default",
        backend="onnxruntime" if name.startswith("vqdsp, onnxruntime") else "torch",
        partner=None if name.startswith("vqdsp, no partner") else "auto",
    )
    if name == "vqdsp, compiled":
        def compiled(audio: np.ndarray, sample_rate: int) -> np.ndarray:
            effect.denoiser_at(sample_rate).compile()  # the first (warm-up) call compiles
            return effect(audio, sample_rate)

        return compiled
    if name != "vqdsp, streamed":
        return effect

    def streamed(audio: np.ndarray, sample_rate: int) -> np.ndarray:
        planar = audio.reshape(-1, audio.shape[-1])
        latency, chunk = effect.latency_at(sample_rate), 10 * sample_rate
        effect.reset()
        parts = [effect(planar[:, i : i + chunk], sample_rate, reset=False) for i in range(0, planar.shape[1], chunk)]
        parts.append(effect(flush_padding(planar[:, -latency:], latency), sample_rate, reset=False))
        return np.concatenate(parts, axis=1)[:, latency:].reshape(audio.shape)

    return streamed


def _build(name: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """``fn(audio [samples] or [channels, samples], sample_rate)`` for ``name``; skips a missing peer."""
    if name.startswith("vqdsp"):
        try:
            return _vqdsp(name)
        except ImportError as err:  # the onnxruntime backend without vqdsp[onnx]
            pytest.skip(f"{name} not available ({err})")
    from vqdsp.evaluation import systems

    try:
        system = {
            "noisereduce": lambda: systems.NoiseReduce(),
            "noisereduce-stationary": lambda: systems.NoiseReduce(stationary=True),
            "rnnoise": lambda: systems.RNNoise(),
            "deepfilternet3": lambda: systems.DeepFilterNet3(),
            "gtcrn": lambda: systems.GTCRN(),
        }[name]()
    except (ImportError, OSError) as err:
        pytest.skip(f"{name} not available ({err}); pip install vqdsp[bench]")

    def per_channel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
        if audio.ndim == 1:
            return system(audio, sample_rate)
        return np.stack([system(channel, sample_rate) for channel in audio])

    return per_channel


@pytest.fixture(scope="module", params=SYSTEMS)
def system(request: pytest.FixtureRequest) -> tuple[str, Callable[[np.ndarray, int], np.ndarray]]:
    return request.param, _build(request.param)


@pytest.mark.parametrize("case", list(CASES))
def test_end_to_end(benchmark, request: pytest.FixtureRequest, system, case: str) -> None:
    name, fn = system
    rate, channels = CASES[case]
    if name.endswith(", linked") and channels == 1:
        pytest.skip("linked channels are the independent ones for mono")
    if name.endswith(", no high band") and rate < 16000:
        pytest.skip("the high-band stage runs from 16 kHz up")
    if name.startswith("vqdsp, no partner") and rate < WIDEBAND_FROM_HZ:
        pytest.skip("the rate chooses a model with a partner from 16 kHz up")
    seconds = audio_seconds(SECONDS, QUICK_SECONDS, request.config)
    audio = speech_plus_noise(seconds, rate, channels)
    fn(audio[..., :rate], rate)  # warm-up: model load, allocations, FFT plans
    benchmark.group = f"end to end, {case}, {seconds:g} s"
    record(benchmark, name, sample_rate=rate, channels=channels, audio_seconds=seconds, system=name, reference="vqdsp")
    out = benchmark.pedantic(fn, args=(audio, rate), rounds=ROUNDS.get(name, 3), warmup_rounds=0, iterations=1)
    assert out.shape == audio.shape
    assert np.all(np.isfinite(out))
