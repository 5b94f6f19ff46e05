"""Memory: peak RSS of streaming one hour of audio, against ten minutes, in a fresh process.

``VQDenoise`` with ``reset=False`` is fed synthesized 8 kHz speech plus noise chunk by chunk
(pedalboard's 8192-sample buffer), so no file is needed; the child process reports its peak RSS
(``ru_maxrss``) after 10 minutes of audio and after the hour, from the same stream.
``vqdsp master`` reads WAV files written chunk by chunk, a 10-minute one and a 1 h one, each in
its own run (one torch thread, ``OMP_NUM_THREADS=1``, as for the ``VQDenoise`` stream). Children are
this file run as a script; the benchmark's time is the long run's wall time. ``ru_maxrss`` of
children is the largest single process (for ``vqdsp master``: its worker or its main process),
not their sum. Peak RSS must not grow with the length of the audio; quick mode streams 30 s against
10 s.

Run by hand: ``python bench/test_memory.py stream 3600 --mark 600`` prints the JSON a test reads.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

RATE = 8000
CHUNK = 8192  # pedalboard's (and VQDenoise's) default buffer size
LONG, SHORT = 3600.0, 600.0
QUICK_LONG, QUICK_SHORT = 30.0, 10.0
SLACK_MB = 100.0  # allowed growth from the short run to the long one (allocator noise)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _chunks(seconds: float, seed: int = 0):  # generator of float32 [CHUNK] arrays
    """Synthesized speech plus noise, ``CHUNK`` samples at a time: the bundled example looped, fresh noise."""
    from utils import speech_plus_noise

    loop = speech_plus_noise(60.0, RATE)  # one minute of material, repeated with new noise
    rng = np.random.default_rng(seed)
    level = 0.05 * float(np.sqrt(np.mean(loop**2)))
    total = int(seconds * RATE)
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        idx = (start + np.arange(n)) % len(loop)
        yield (loop[idx] + level * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)


def _peak_mb() -> float:
    """Peak RSS of this process since its exec (``VmHWM``; ``ru_maxrss`` keeps the parent's peak across exec)."""
    peak = _status_mb("VmHWM")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream_vqdenoise(seconds: float, mark: float) -> dict[str, float]:
    """Stream ``seconds`` of audio through ``VQDenoise(reset=False)``; peak RSS (also after ``mark`` s) and timings."""
    import torch

    from vqdsp.audio.effect import VQDenoise

    torch.set_num_threads(1)  # memory does not depend on it; one thread is the fastest on a busy machine
    effect = VQDenoise()
    effect(np.zeros(RATE, np.float32), RATE)  # load and warm up
    baseline = _rss_mb()
    start = time.perf_counter()
    samples, mark_peak = 0, float("nan")
    for chunk in _chunks(seconds):
        out = effect(chunk, RATE, reset=False)
        samples += len(out)
        if samples - len(out) < mark * RATE <= samples:
            mark_peak = _peak_mb()
    elapsed = time.perf_counter() - start
    return {
        "audio_seconds": samples / RATE, "wall_seconds": elapsed, "rss_after_load_mb": baseline,
        "peak_rss_mb": _peak_mb(), "mark_seconds": mark, "mark_peak_rss_mb": mark_peak,
    }


def run_command(argv: list[str]) -> dict[str, float]:
    """Run ``argv`` as a child; its peak RSS (``RUSAGE_CHILDREN``: this small process has no other child) and wall time."""
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # like stream_vqdenoise; torch's threads wait for each other on a busy machine
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed with exit {done.returncode}:\n{done.stderr[-2000:]}")
    return {"wall_seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _child(*args: str) -> dict[str, float]:
    """Run this file as a script in a fresh interpreter and return the JSON it prints."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"memory child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _lengths(config: pytest.Config) -> tuple[float, float]:
    from utils import is_quick

    return (QUICK_LONG, QUICK_SHORT) if is_quick(config) else (LONG, SHORT)


def _group(benchmark, long_s: float, short_s: float) -> None:
    benchmark.group = f"memory: peak RSS streaming {long_s / 60:g} min vs {short_s / 60:g} min, 8 kHz mono"


def _record(benchmark, name: str, long: dict, short: dict, long_s: float, short_s: float) -> None:
    from utils import record

    record(
        benchmark, name, audio_seconds=long_s, short_audio_seconds=short_s, peak_rss_mb=round(long["peak_rss_mb"], 1),
        short_peak_rss_mb=round(short["peak_rss_mb"], 1), **({"rss_after_load_mb": round(long["rss_after_load_mb"], 1)} if "rss_after_load_mb" in long else {}),
        wall_seconds=round(long["wall_seconds"], 2), target_peak_rss_mb=500, reference="VQDenoise reset=False",
    )


def test_memory_vqdenoise_stream(benchmark, request: pytest.FixtureRequest) -> None:
    long_s, short_s = _lengths(request.config)
    _group(benchmark, long_s, short_s)
    long = benchmark.pedantic(_child, args=("stream", str(long_s), "--mark", str(short_s)), rounds=1, iterations=1)
    short = {"peak_rss_mb": long["mark_peak_rss_mb"]}
    _record(benchmark, "VQDenoise reset=False", long, short, long_s, short_s)
    assert long["audio_seconds"] == pytest.approx(long_s, abs=1 / RATE)
    assert long["peak_rss_mb"] <= short["peak_rss_mb"] + SLACK_MB, "peak memory grows with the length of the stream"


def _write_wav(path: Path, seconds: float) -> Path:
    import soundfile as sf

    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for chunk in _chunks(seconds):
            f.write(np.clip(chunk, -1, 1))
    return path


@pytest.mark.skipif(importlib.util.find_spec("vqdsp.mastering.master") is None, reason="vqdsp master has not landed (no vqdsp/mastering/master.py)")
def test_memory_master(benchmark, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    long_s, short_s = _lengths(request.config)
    _group(benchmark, long_s, short_s)
    results = {}
    for seconds in (short_s, long_s):
        folder = tmp_path / f"in_{seconds:g}"
        folder.mkdir()
        _write_wav(folder / "speech.wav", seconds)
        argv = [sys.executable, "-m", "vqdsp", "master", str(folder), "-o", str(tmp_path / f"out_{seconds:g}"), "--no-progress"]
        if seconds == long_s:
            results[seconds] = benchmark.pedantic(_child, args=("command", *argv), rounds=1, iterations=1)
        else:
            results[seconds] = _child("command", *argv)
        (folder / "speech.wav").unlink()
    _record(benchmark, "vqdsp master", results[long_s], results[short_s], long_s, short_s)
    assert results[long_s]["peak_rss_mb"] <= results[short_s]["peak_rss_mb"] + SLACK_MB, "peak memory grows with the file's length"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Child process of the memory benchmarks; prints one JSON line.")
    sub = parser.add_subparsers(dest="mode", required=True)
    stream = sub.add_parser("stream", help="stream synthesized 8 kHz audio through VQDenoise(reset=False)")
    stream.add_argument("seconds", type=float, help="length of the stream, in seconds")
    stream.add_argument("--mark", type=float, default=600.0, help="also report the peak RSS after this many seconds")
    command = sub.add_parser("command", help="run a command and report its peak RSS")
    command.add_argument("argv", nargs=argparse.REMAINDER, help="the command and its arguments")
    args = parser.parse_args(argv)
    result = stream_vqdenoise(args.seconds, args.mark) if args.mode == "stream" else run_command(args.argv)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
