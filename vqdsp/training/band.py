"""How wide is a recording's band, really? Speech energy above 8 and 12 kHz, measured before training on it.

A file's sample rate says nothing of its band: many 44.1 kHz files are upsampled from 8-22 kHz
sources, and some carry only hiss up there. :func:`measure_band` tells speech from pauses by
their 1-4 kHz level and compares, in the speech frames, the energy above 8 and 12 kHz with the
speech's own 1-4 kHz band and with the same band in the pauses, and finds the highest
frequency where speech still stands above the pauses and not far below its own 1-4 kHz level
(an upsampled file's resampler leaves leakage above its old Nyquist, 45 dB or more down). :func:`select_full_band` lays out the
files that pass as one folder of links per speaker, with a CSV of every measurement.

    python -m vqdsp.training.band SPEAKER_FOLDER... -o OUT [--min-top-hz 12000]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from vqdsp.atomic import atomic_write
from vqdsp.audio.files import find_audio_files

SPEECH_BAND_HZ = (1000.0, 4000.0)
FRAME_SECONDS = 0.02
SPEECH_MARGIN_DB = 20.0  # a speech frame: 1-4 kHz level within this of the file's loudest frames
PAUSE_MARGIN_DB = 35.0  # a pause frame: this far or more below them
TOP_BAND_DB = 15.0  # the top of the band: the highest frequency where speech stands this far above the pauses ...
TOP_LEVEL_DB = -45.0  # ... and no further below the speech's mean 1-4 kHz level (a resampler's leakage lies lower)


@dataclass(frozen=True)
class BandReport:
    """What :func:`measure_band` found in one file (levels in dB; NaN where a part is missing)."""

    path: str
    sample_rate: int
    seconds: float
    speech_seconds: float
    above_8k_db: float  # speech above 8 kHz, against the speech's 1-4 kHz level
    above_12k_db: float
    above_8k_over_pauses_db: float  # speech above 8 kHz, against the pauses above 8 kHz
    top_hz: float  # highest frequency with speech this far above the pauses (or the file's spectral floor)

    def full_band(self, min_top_hz: float = 12000.0, min_above_8k_db: float = -40.0, min_over_pauses_db: float = 10.0) -> bool:
        """Real speech energy to ``min_top_hz``: not upsampled, not hiss."""
        return (
            self.speech_seconds >= 0.2
            and self.top_hz >= min_top_hz
            and self.above_8k_db >= min_above_8k_db
            and not self.above_8k_over_pauses_db < min_over_pauses_db  # NaN (no pauses) passes
        )


def _band_power(power: np.ndarray, freqs: np.ndarray, low: float, high: float) -> np.ndarray:
    inside = (freqs >= low) & (freqs < high)
    return power[inside].sum(axis=0) if inside.any() else np.zeros(power.shape[1])


def _db(x: float) -> float:
    return 10 * math.log10(x) if x > 0 else -math.inf


def measure_band(audio: np.ndarray, sample_rate: int, path: str = "") -> BandReport:
    """Measure the band of mono ``audio`` at ``sample_rate`` (see the module's docstring)."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"measure_band takes mono audio, got shape {audio.shape}")
    nperseg = max(16, round(FRAME_SECONDS * sample_rate))
    seconds = len(audio) / sample_rate
    nan = math.nan
    if len(audio) < 2 * nperseg or not np.any(audio):
        return BandReport(path, sample_rate, seconds, 0.0, nan, nan, nan, 0.0)
    freqs, _, spec = scipy.signal.stft(audio, sample_rate, nperseg=nperseg, noverlap=nperseg // 2)
    power = np.abs(spec) ** 2
    speech_band = _band_power(power, freqs, *SPEECH_BAND_HZ)
    level = 10 * np.log10(speech_band + 1e-20)
    loud = np.percentile(level, 95)
    speech, pauses = level >= loud - SPEECH_MARGIN_DB, level <= loud - PAUSE_MARGIN_DB
    hop_seconds = (nperseg - nperseg // 2) / sample_rate
    ref = speech_band[speech].mean()
    above8 = _band_power(power, freqs, 8000, sample_rate / 2)
    above12 = _band_power(power, freqs, 12000, sample_rate / 2)
    speech_spectrum = power[:, speech].mean(axis=1)
    if pauses.sum() >= 3:
        floor = power[:, pauses].mean(axis=1)
        over_pauses = _db(above8[speech].mean()) - _db(above8[pauses].mean()) if sample_rate > 16000 else nan
    else:  # no pauses to compare with: the floor is the speech spectrum's own quietest region
        floor = np.full_like(speech_spectrum, np.percentile(speech_spectrum, 5))
        over_pauses = nan
    # the top: the highest frequency where speech stands TOP_BAND_DB above the floor and lies within
    # TOP_LEVEL_DB of its mean 1-4 kHz bin (both smoothed over ~500 Hz)
    width = max(1, round(500 / (freqs[1] - freqs[0])))
    kernel = np.ones(width) / width
    speech_db = 10 * np.log10(np.convolve(speech_spectrum, kernel, "same") + 1e-20)
    ratio_db = speech_db - 10 * np.log10(np.convolve(floor, kernel, "same") + 1e-20)
    in_band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs < SPEECH_BAND_HZ[1])
    level_db = speech_db - 10 * np.log10(speech_spectrum[in_band].mean() + 1e-20)
    above = np.flatnonzero((ratio_db >= TOP_BAND_DB) & (level_db >= TOP_LEVEL_DB) & (freqs >= SPEECH_BAND_HZ[0]))
    top = float(freqs[above[-1]]) if len(above) else 0.0
    return BandReport(
        path, sample_rate, seconds, float(speech.sum() * hop_seconds),
        _db(above8[speech].mean()) - _db(ref) if sample_rate > 16000 else nan,
        _db(above12[speech].mean()) - _db(ref) if sample_rate > 24000 else nan,
        over_pauses, top,
    )  # fmt: skip


def measure_file(path: str | os.PathLike) -> BandReport:
    """:func:`measure_band` of a file, at its own rate (channels averaged)."""
    try:
        audio, rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise ValueError(f"cannot read audio file {path}: {err}") from err
    return measure_band(audio.mean(axis=1), int(rate), str(path))


def select_full_band(speakers: Sequence[str | os.PathLike], out: str | os.PathLike, min_top_hz: float = 12000.0) -> list[BandReport]:
    """Measure every file of each speaker folder; link those that are full band into ``out/<speaker>/``.

    ``out/band.csv`` lists every file's measurement and whether it was taken. Returns the taken reports.
    """
    out = Path(out)
    rows: list[dict] = []
    taken: list[BandReport] = []
    for folder in map(Path, speakers):
        for path in find_audio_files(folder):
            try:
                report = measure_file(path)
            except ValueError:
                continue
            keep = report.full_band(min_top_hz)
            rows.append(dict(asdict(report), speaker=folder.name, taken=keep))
            if keep:
                link = out / folder.name / "__".join(path.relative_to(folder).parts)
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.is_symlink():
                    link.symlink_to(path.resolve())
                taken.append(report)
    out.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["speaker", "taken", *BandReport.__dataclass_fields__])
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(out / "band.csv", write)
    return taken


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vqdsp.training.band", description=__doc__.split("\n\n")[0])
    parser.add_argument("speakers", nargs="+", help="one folder per speaker (searched recursively)")
    parser.add_argument("-o", "--out", required=True, help="folder for the links (one sub-folder per speaker) and band.csv")
    parser.add_argument("--min-top-hz", type=float, default=12000.0, help="speech must reach this frequency, in Hz")
    args = parser.parse_args(argv)
    taken = select_full_band(args.speakers, args.out, args.min_top_hz)
    minutes = sum(r.seconds for r in taken) / 60
    print(f"{len(taken)} full-band files ({minutes:.1f} min) linked under {args.out}; every measurement in {Path(args.out) / 'band.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
