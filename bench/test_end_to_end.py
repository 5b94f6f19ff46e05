"""End to end: ``VQDenoise`` against noisereduce and RNNoise on the same noisy speech, same run.

Each group gives every system the same audio (60 s of speech plus noise; 2 s in quick mode) and
records ``audio_seconds``, so that ``bench/report.py`` can give the real-time factor (audio
seconds / wall seconds) and each peer's time relative to vqdsp. The peers are the evaluation's
wrappers (:mod:`vqdsp.evaluation.systems`); a peer that is not installed (``pip install vqdsp[bench]``) is
skipped. Mono wrappers process a stereo input one channel at a time. vqdsp runs twice: with
torch's default threads (one per core) and with one thread, like the peers (which use one core);
on a busy machine the one-thread row is often the faster, as torch's threads wait for each other.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from utils import is_quick, record, speech_plus_noise

SECONDS = 60.0
QUICK_SECONDS = 2.0
CASES = {"8 kHz mono": (8000, 1), "48 kHz stereo": (48000, 2)}
SYSTEMS = ["vqdsp", "vqdsp, 1 thread", "noisereduce", "noisereduce-stationary", "rnnoise"]
ROUNDS = {"vqdsp": 2, "vqdsp, 1 thread": 2, "rnnoise": 3}  # the slow ones; the others get 10


def _build(name: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """``fn(audio [samples] or [channels, samples], sample_rate)`` for ``name``; skips a missing peer."""
    if name.startswith("vqdsp"):
        import torch

        from vqdsp.audio.effect import VQDenoise

        effect = VQDenoise()
        if name == "vqdsp":
            return effect  # torch's default threads (one per core)

        def one_thread(audio: np.ndarray, sample_rate: int) -> np.ndarray:
            before = torch.get_num_threads()
            torch.set_num_threads(1)  # like the peers, which run on one core
            try:
                return effect(audio, sample_rate)
            finally:
                torch.set_num_threads(before)

        return one_thread
    from vqdsp.evaluation import systems

    try:
        system = {
            "noisereduce": lambda: systems.NoiseReduce(),
            "noisereduce-stationary": lambda: systems.NoiseReduce(stationary=True),
            "rnnoise": lambda: systems.RNNoise(),
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
def test_end_to_end(benchmark, request: pytest.FixtureRequest, system, case: str) -> None:  # noqa: ANN001
    name, fn = system
    rate, channels = CASES[case]
    seconds = QUICK_SECONDS if is_quick(request.config) else SECONDS
    audio = speech_plus_noise(seconds, rate, channels)
    fn(audio[..., :rate], rate)  # warm-up: model load, allocations, FFT plans
    benchmark.group = f"end to end, {case}, {seconds:g} s"
    record(benchmark, name, sample_rate=rate, channels=channels, audio_seconds=seconds, system=name, reference="vqdsp")
    out = benchmark.pedantic(fn, args=(audio, rate), rounds=ROUNDS.get(name, 10), warmup_rounds=0, iterations=1)
    assert out.shape == audio.shape
    assert np.all(np.isfinite(out))
