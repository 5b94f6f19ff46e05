"""Does ``vqdsp master --preset speech`` land on -16 LUFS / -1 dBTP? Ten files of real speech of different loudness.

Builds ten files from real speech recordings (quiet, ordinary, noisy, loud, peaky with claps,
44.1 kHz and stereo, one mostly noise: a word in room tone), masters them with a preset, and measures every output
independently of vqdsp's own meter: integrated loudness with ``pyloudnorm``, true peak as the
peak of the 4x oversampled signal (``scipy.signal.resample_poly``). Prints a markdown table and
writes it, with a figure, into ``-o``:

    python scripts/mastering_check.py data/eval48k/alsa-utils/*.wav data/eval48k/hedgewars-Default_uk/*.wav -o out/mastering-check

Give at least four speech files (they are reused in turn); use speech never mastered before.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyloudnorm
import scipy.signal
import soundfile as sf

from vqdsp.audio.files import read_mono
from vqdsp.mastering.master import master, plan_jobs
from vqdsp.mastering.presets import load_preset
from vqdsp.training.noise import pink_noise

RATE = 48000


def _at_lufs(audio: np.ndarray, rate: int, lufs: float) -> np.ndarray:
    return pyloudnorm.normalize.loudness(audio, pyloudnorm.Meter(rate).integrated_loudness(audio), lufs)


def _claps(audio: np.ndarray, rate: int, rng: np.random.Generator, count: int = 3, peak: float = 0.99) -> np.ndarray:
    """``audio`` with ``count`` hand-clap-like bursts (5 ms of decaying noise) peaking at ``peak``."""
    out = audio.copy()
    length = int(0.005 * rate)
    burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.001 * rate))
    burst *= peak / np.abs(burst).max()
    for at in np.linspace(0.2, 0.8, count) * len(audio):
        i = int(at)
        out[i : i + length] += burst[: len(out) - i]
    return out


def _stereo(audio: np.ndarray) -> np.ndarray:
    """A plausible stereo pair: the right channel 2 dB lower and 0.3 ms later."""
    right = np.concatenate([np.zeros(15), audio[:-15]]) * 10 ** (-2 / 20)
    return np.stack([audio, right], axis=1)


CASES: list[tuple[str, str, Callable]] = [
    ("quiet", "speech at -38 LUFS", lambda s, r, g: _at_lufs(s, r, -38)),
    ("quiet-stereo", "stereo speech at -32 LUFS", lambda s, r, g: _at_lufs(_stereo(s), r, -32)),
    ("ordinary", "speech at -23 LUFS", lambda s, r, g: _at_lufs(s, r, -23)),
    ("noisy", "speech at -20 LUFS, pink noise at 15 dB SNR", lambda s, r, g: _at_lufs(s + pink_noise(len(s), g) * np.sqrt(np.mean(s**2)) * 10 ** (-15 / 20), r, -20)),
    ("loud", "speech peaking at -0.1 dBFS", lambda s, r, g: s * (10 ** (-0.1 / 20) / np.abs(s).max())),
    ("loud-stereo", "stereo speech at -12 LUFS (clipped at full scale)", lambda s, r, g: np.clip(_at_lufs(_stereo(s), r, -12), -1, 1)),
    ("peaky", "speech at -26 LUFS with three claps at -0.1 dBFS", lambda s, r, g: _claps(_at_lufs(s, r, -26), r, g)),
    ("peaky-loud", "speech at -18 LUFS with three claps at -0.1 dBFS", lambda s, r, g: _claps(_at_lufs(s, r, -18), r, g)),
    ("44k1", "speech at -20 LUFS at 44.1 kHz", None),  # resampled below
    ("mostly-noise", "one 0.5 s word in 20 s of room noise at -40 dBFS", None),
]


def build(speech: list[Path], folder: Path, seed: int = 0) -> dict[str, str]:
    """Write the ten files into ``folder``; returns name -> description."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for k, (name, what, make) in enumerate(CASES):
        clean = read_mono(speech[k % len(speech)], RATE).astype(np.float64)
        rate = RATE
        if name == "44k1":
            rate, audio = 44100, _at_lufs(scipy.signal.resample_poly(clean, 147, 160), 44100, -20)
        elif name == "mostly-noise":
            noise = pink_noise(20 * RATE, rng) * 10 ** (-40 / 20)
            loudest = int(np.argmax(np.abs(clean)))
            part = clean[max(0, loudest - RATE // 4) : loudest + RATE // 4]
            part = part * (10 ** (-30 / 20) / max(np.abs(part).max(), 1e-9))
            noise[9 * RATE : 9 * RATE + len(part)] += part
            audio = noise
        else:
            audio = make(clean, rate, rng)
        sf.write(folder / f"{k:02d}-{name}.wav", np.asarray(audio, np.float32), rate, subtype="PCM_24")
        made[f"{k:02d}-{name}.wav"] = what
    return made


def measure(path: Path) -> tuple[float, float]:
    """(integrated LUFS by pyloudnorm, true peak in dBTP: 4x oversampled)."""
    audio, rate = sf.read(path, always_2d=True)
    lufs = pyloudnorm.Meter(rate).integrated_loudness(audio)
    peak = np.abs(scipy.signal.resample_poly(audio, 4, 1, axis=0)).max()
    return float(lufs), 20 * math.log10(max(peak, 1e-12))


def figure(rows: list[dict], path: Path, target: float, ceiling: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["file"].removesuffix(".wav") for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    ax1.bar(x - 0.2, [r["input_lufs"] for r in rows], 0.4, label="input", color="0.7")
    ax1.bar(x + 0.2, [r["output_lufs"] for r in rows], 0.4, label="mastered")
    ax1.axhline(target, color="k", linestyle="--", linewidth=1, label=f"target {target:g} LUFS")
    ax1.set(ylabel="integrated loudness (LUFS)", title="vqdsp master --preset speech: loudness and true peak (pyloudnorm, 4x oversampling)")
    ax1.legend(fontsize=8)
    ax2.bar(x - 0.2, [r["input_true_peak_dbtp"] for r in rows], 0.4, color="0.7", label="input")
    ax2.bar(x + 0.2, [r["output_true_peak_dbtp"] for r in rows], 0.4, label="mastered")
    ax2.axhline(ceiling, color="k", linestyle="--", linewidth=1, label=f"ceiling {ceiling:g} dBTP")
    ax2.set(ylabel="true peak (dBTP)", xticks=x)
    ax2.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("speech", nargs="+", type=Path, help="speech recordings to build the ten files from (at least 4)")
    parser.add_argument("-o", "--out", type=Path, default=Path("out/mastering-check"))
    parser.add_argument("--preset", default="speech")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    if len(args.speech) < 4:
        parser.error("give at least 4 speech files")
    preset = load_preset(args.preset)
    made = build(sorted(args.speech), args.out / "inputs")
    reports = {Path(r.output).name: r for r in master(plan_jobs([str(args.out / "inputs")], args.out / "mastered"), preset, args.out / "mastered", workers=args.jobs, overwrite=True)}
    rows = []
    for name, what in made.items():
        lufs_in, peak_in = measure(args.out / "inputs" / name)
        lufs, peak = measure(args.out / "mastered" / name)
        report = reports[name]
        rows.append({
            "file": name, "what": what, "input_lufs": lufs_in, "input_true_peak_dbtp": peak_in, "output_lufs": lufs,
            "output_true_peak_dbtp": peak, "gain_db": report.gain_db, "limiter_max_reduction_db": report.limiter_max_reduction_db,
            "limited_percent": report.limited_percent, "held_back_lu": report.held_back_lu,
        })  # fmt: skip
    with (args.out / "mastering-check.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    figure(rows, args.out / "mastering-check.png", preset.target_lufs or -16.0, preset.true_peak_dbtp or -1.0)

    def num(value, fmt=".1f") -> str:
        return "-" if value is None else format(value, fmt)

    print("| file | what | input LUFS / dBTP | output LUFS / dBTP | gain dB | limiter max GR dB / % of time | held back LU |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['file']} | {r['what']} | {r['input_lufs']:.1f} / {r['input_true_peak_dbtp']:.1f} | "
              f"{r['output_lufs']:.2f} / {r['output_true_peak_dbtp']:.2f} | {num(r['gain_db'])} | "
              f"{num(r['limiter_max_reduction_db'])} / {num(r['limited_percent'])} | {num(r['held_back_lu'])} |")


if __name__ == "__main__":
    main()
