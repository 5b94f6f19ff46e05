"""Issue 23's ratios on a busy machine: the systems' rounds interleaved, each system's best round kept.

pytest-benchmark runs one row after another, so load that comes and goes lands on some rows and
not others; here every round runs each system once, in turn. For vqdsp's rows the model's forward is
timed inside the end-to-end call (a forward hook), so the share of the time outside the model
comes from the same calls::

    python bench/interleaved.py --seconds 20 --rounds 5 [--peers] [--compiled] [--onnxruntime]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.effect import VQDenoise

sys.path.insert(0, str(Path(__file__).parent))
from legacy import LegacyDenoise  # noqa: E402
from utils import speech_plus_noise  # noqa: E402

CASES = {"8 kHz mono": (8000, 1), "48 kHz stereo": (48000, 2)}


class ModelClock:
    """Seconds spent in a denoiser's model forward (its :meth:`~vqdsp.audio.denoiser.Denoiser.forward`, any backend)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def attach(self, denoiser: Denoiser) -> None:
        forward = denoiser.forward

        def timed(log_mag: np.ndarray) -> np.ndarray:
            start = time.perf_counter()
            try:
                return forward(log_mag)
            finally:
                self.seconds += time.perf_counter() - start

        denoiser.forward = timed  # type: ignore[method-assign]


def systems(rate: int, peers: bool, compiled: bool, onnxruntime: bool) -> dict[str, tuple[Callable, ModelClock | None]]:
    out: dict[str, tuple[Callable, ModelClock | None]] = {}
    names = [("vqdsp", VQDenoise()), ("vqdsp, before issue 23", LegacyDenoise())]
    if onnxruntime:
        names.append(("vqdsp, onnxruntime", VQDenoise(backend="onnxruntime")))
    if compiled:
        effect = VQDenoise()
        effect.denoiser_at(rate).compile()
        names.append(("vqdsp, compiled", effect))
    for name, effect in names:
        clock = ModelClock()
        clock.attach(effect.denoiser_at(rate))
        out[name] = (effect, clock)
    if peers:
        from vqdsp.evaluation import systems as peer_systems

        for name, make in (("deepfilternet3", peer_systems.DeepFilterNet3), ("gtcrn", peer_systems.GTCRN), ("noisereduce", peer_systems.NoiseReduce)):
            try:
                system = make()
            except (ImportError, OSError) as err:
                print(f"{name} skipped: {err}")
                continue
            out[name] = ((lambda s: lambda a, r: np.stack([s(c, r) for c in a.reshape(-1, a.shape[-1])]))(system), None)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Interleaved end-to-end rounds: shipped path, the path before issue 23, peers.")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio seconds per call")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (each system once per round)")
    parser.add_argument("--peers", action="store_true", help="also DeepFilterNet3, GTCRN and noisereduce")
    parser.add_argument("--compiled", action="store_true", help="also the compiled model (Denoiser.compile)")
    parser.add_argument("--onnxruntime", action="store_true", help="also the onnxruntime backend (VQDenoise(backend='onnxruntime'))")
    parser.add_argument("--case", choices=list(CASES), action="append", help="cases (default: both)")
    args = parser.parse_args(argv)
    for case in args.case or list(CASES):
        rate, channels = CASES[case]
        audio = speech_plus_noise(args.seconds, rate, channels).reshape(channels, -1)
        runs = systems(rate, args.peers, args.compiled, args.onnxruntime)
        for fn, _ in runs.values():
            fn(audio[:, :rate], rate)  # warm-up (and compilation)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for name, (fn, clock) in runs.items():
                before = clock.seconds if clock else 0.0
                start = time.perf_counter()
                fn(audio, rate)
                wall = time.perf_counter() - start
                model = (clock.seconds - before) if clock else float("nan")
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, model)
        ref = best["vqdsp"][0]
        print(f"\n{case}, {args.seconds:g} s, best of {args.rounds} interleaved rounds (load {np.round(__import__('os').getloadavg(), 1).tolist()})")
        print("| system | best | real-time factor | time / vqdsp | outside the model |\n|---|---|---|---|---|")
        for name, (wall, model) in best.items():
            outside = "" if model != model else f"{100 * (1 - model / wall):.0f}%"
            print(f"| {name} | {wall:.3f} s | {args.seconds / wall:.1f}x | {wall / ref:.2f} | {outside} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
