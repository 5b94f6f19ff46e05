"""The model-card evaluation, the audio path before issue 23 (and the shipped one with the model's FFT
unpadded) against the shipped one, in the same run.

Both run the shipped models (chosen by rate) on the same noisy mixtures (``vqdsp eval``'s recipe, seed 0);
the report gives each metric's mean and 95% interval over files per path (``summary.md``), and here the
paired difference (shipped minus before) per metric over every file and condition, with its 95% interval::

    python bench/quality_transform.py data/eval48k --sample-rate 48000 --limit 3 -o out/quality48k \\
        --music-dir data/eval-music --noise-dir data/eval-noise --babble-dir DIR ...
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import scipy.stats

from vqdsp.audio.effect import VQDenoise
from vqdsp.evaluation.evaluate import NoiseRecipe, evaluate

sys.path.insert(0, str(Path(__file__).parent))
from legacy import LegacyDenoise, UnpaddedDenoise  # noqa: E402

NOISE = ("white", "pink", "babble", "music", "recorded")


class Path23:
    """``VQDenoise`` (shipped path) or :class:`~legacy.LegacyDenoise` as an evaluation system."""

    def __init__(self, name: str, effect: VQDenoise) -> None:
        self.name, self.effect = name, effect

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.effect(np.asarray(audio, np.float32), sample_rate)


def paired(per_file: Path, new: str, old: str, title: str = "shipped - before") -> list[str]:
    """Per metric: mean of (new - old) over (file, condition) pairs, its 95% t-interval, and n."""
    rows = list(csv.DictReader(per_file.open()))
    keyed: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        keyed.setdefault((row["file"], row["noise"], row["snr_db"]), {})[row["system"]] = row
    lines = [f"| metric | {title} | 95% interval | n |", "|---|---|---|---|"]
    metrics = [k for k in rows[0] if k not in ("file", "noise", "snr_db", "system")]
    for metric in metrics:
        diffs = []
        for pair in keyed.values():
            a, b = pair.get(new, {}).get(metric, ""), pair.get(old, {}).get(metric, "")
            if a not in ("", "nan") and b not in ("", "nan"):
                diffs.append(float(a) - float(b))
        if len(diffs) < 2:
            continue
        d = np.array(diffs)
        half = scipy.stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        lines.append(f"| {metric} | {d.mean():+.4f} | ±{half:.4f} | {len(d)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Quality of the shipped audio path against the one before issue 23.")
    parser.add_argument("clean", nargs="+", help="folders of clean speech")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--sample-rate", type=int, default=48000, help="rate to evaluate at, in Hz")
    parser.add_argument("--limit", type=int, default=3, help="clean files (spread over the sorted list)")
    parser.add_argument("--noise", nargs="+", default=list(NOISE), help="noise kinds")
    parser.add_argument("--snr-db", nargs="+", type=float, default=[0.0, 5.0, 10.0], help="SNRs")
    parser.add_argument("--babble-dir", action="append", default=[], help="talkers for babble")
    parser.add_argument("--music-dir", action="append", default=[], help="music for music noise")
    parser.add_argument("--noise-dir", action="append", default=[], help="recorded noise")
    args = parser.parse_args(argv)
    systems = [Path23("shipped", VQDenoise()), Path23("before", LegacyDenoise()), Path23("unpadded", UnpaddedDenoise())]
    result = evaluate(
        args.clean, args.out, systems, recipe=NoiseRecipe(tuple(args.noise), tuple(args.snr_db), 0),
        babble_dirs=args.babble_dir, music_dirs=args.music_dir, noise_dirs=args.noise_dir,
        sample_rate=args.sample_rate, limit=args.limit, examples=0, overwrite=True, progress=False,
    )
    per_file = Path(result.out_dir) / "per_file.csv"
    text = "\n".join([*paired(per_file, "shipped", "before"), "", *paired(per_file, "shipped", "unpadded", "shipped - 519 FFT")])
    (Path(args.out) / "paired.md").write_text(text + "\n")
    print(result.markdown.split("## PESQ")[0])
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
