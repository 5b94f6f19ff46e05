"""Evaluate denoisers on clean speech: metric tables, a per-file CSV, spectrogram figures, example WAVs.

Noisy input comes from paired recordings or from a :class:`NoiseRecipe` (noise types x SNRs, seeded
per file and condition, so a run is reproducible and ``limit`` does not change the noise of a file).
Besides additive noise, two out-of-domain conditions change the speech itself (:func:`make_condition`):
``reverb`` (a room) and ``channel`` (a coloured phone line); each is scored against a reference that
keeps what a denoiser should not remove (the room; the phone channel).
Files are read, denoised and scored one at a time: only the scores stay in memory.

Outputs in ``out_dir``: ``summary.md`` and ``summary.csv`` (mean and 95% confidence interval per
system and condition), ``per_file.csv``, ``spectrograms.png`` (the first example) and
``examples/<name>/`` (clean, noisy and denoised WAVs with their ``spectrograms.png``).
``per_file.csv`` has a column for every metric (NaN where the rate has none: ViSQOL below 32 kHz,
the measures above 8 kHz at 16 kHz and below); the summaries hold the metrics the rate has
(:func:`~vqdsp.evaluation.metrics.metrics_for_rate`).
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vqdsp.audio.files import find_audio_files, read_mono
from vqdsp.evaluation.metrics import METRICS, mean_ci95, metrics_for_rate, score
from vqdsp.evaluation.systems import System
from vqdsp.training.augment import apply_sos, band_limit_sos, codec_round_trip, reverberate, shelf_sos, synthetic_rir
from vqdsp.training.noise import NOISE_TYPES, make_noise, mix_at_snr

LABELS = {"pesq": "PESQ", "stoi": "STOI", "si_sdr": "SI-SDR (dB)", "nsr": "NSR (dB)", "visqol": "ViSQOL",
          "lsd_above_8k": "LSD > 8 kHz (dB)", "residual_above_8k": "residual > 8 kHz (dB)"}
BETTER = {"pesq": "↑", "stoi": "↑", "si_sdr": "↑", "nsr": "↓", "visqol": "↑", "lsd_above_8k": "↓", "residual_above_8k": "↓"}
DIGITS = {"pesq": 2, "stoi": 3, "si_sdr": 1, "nsr": 1, "visqol": 2, "lsd_above_8k": 1, "residual_above_8k": 1}
MAX_TALKER_FILES = 64
MIN_SECONDS = 0.05  # shortest clean file scored: below it STOI has not one frame (PESQ then gives NaN, counted as skipped)
CONDITION_TYPES = (*NOISE_TYPES, "reverb", "channel")
"""What a :class:`NoiseRecipe` may name: the synthetic noise types, ``music``, ``recorded``, ``reverb`` and ``channel``."""
BABBLE_TALKERS = 4  # fixed, so the babble condition stays comparable between runs and with earlier reports
REVERB_RT60_S = 1.0
ROOM_STREAM = 0x5EED_400E  # the rooms' own seed stream, apart from the noise's (and from training's)
CHANNEL_BAND_HZ = (300.0, 3400.0)
CHANNEL_TILT_DB = 5.0  # a thin, bright phone microphone: -5 dB below 400 Hz, +5 dB above 2 kHz
CONDITION_NOTES = {
    "reverb": f"reverb: speech in a synthetic room (RT60 {REVERB_RT60_S:g} s, direct-to-reverberant -3..10 dB, rooms seeded "
              "apart from training's) plus pink noise; "
              "the reference is the reverberant speech (denoising, not dereverberation, is scored)",
    "channel": f"channel: speech and pink noise through a phone line (tilt ±{CHANNEL_TILT_DB:g} dB, "
               f"{CHANNEL_BAND_HZ[0]:g}-{CHANNEL_BAND_HZ[1]:g} Hz, GSM 6.10, SNR set before the codec); "
               "the reference is the clean speech through the same line",
}  # fmt: skip


@dataclass(frozen=True)
class NoiseRecipe:
    """Synthetic noisy input: every clean file under each condition at each SNR.

    Args:
        types: conditions from :data:`CONDITION_TYPES`: the noise types of
            :data:`vqdsp.training.noise.NOISE_TYPES` (``babble`` needs talkers, ``music`` music, ``recorded`` noise recordings;
            babble is always :data:`BABBLE_TALKERS` talkers), ``reverb`` and ``channel``
            (see :func:`make_condition`).
        snr_db: speech-to-noise ratios, in dB.
        seed: seeds the noise (and rooms) of each (file, condition) pair.
    """

    types: tuple[str, ...] = ("white", "pink", "babble")
    snr_db: tuple[float, ...] = (0.0, 5.0, 10.0)
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [t for t in self.types if t not in CONDITION_TYPES]
        if bad or not self.types or not self.snr_db:
            raise ValueError(f"noise types must be some of {', '.join(CONDITION_TYPES)} and SNRs non-empty, got {self.types}, {self.snr_db}")

    def conditions(self) -> list[tuple[str, float]]:
        return [(kind, float(snr)) for kind in self.types for snr in self.snr_db]


@dataclass
class EvalResult:
    """What :func:`evaluate` wrote and found.

    Args:
        out_dir: folder holding every output.
        summary: one dict per (condition, system, metric): mean, ci95, n, skipped.
        markdown: the ``summary.md`` text.
        files: clean files scored.
        notes: skipped systems, files and clips, and why.
    """

    out_dir: Path
    summary: list[dict]
    markdown: str
    files: int
    notes: list[str] = field(default_factory=list)


def select_files(files: Sequence[Path], limit: int | None) -> list[Path]:
    """At most ``limit`` files spread evenly over ``files`` (so every folder of a sorted list is sampled)."""
    if limit is None or limit >= len(files):
        return list(files)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return [files[i] for i in np.unique(np.linspace(0, len(files) - 1, limit).round().astype(int))]


def _clean_files(clean: Sequence[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """(root, file) for every audio file under the clean folders or files."""
    out = [(Path(root), f) for root in clean for f in find_audio_files(root)]
    if not out:
        raise ValueError(f"no audio files found in {', '.join(map(str, clean))}")
    return out


def _noisy_partner(root: Path, path: Path, noisy: Path, by_stem: dict[str, Path]) -> Path:
    rel = path.relative_to(root) if root.is_dir() else Path(path.name)
    if (noisy / rel).is_file():
        return noisy / rel
    if path.stem in by_stem:
        return by_stem[path.stem]
    raise ValueError(f"no noisy file for {path} in {noisy} (looked for {rel} and a file named {path.stem}.*)")


def _label(root: Path, path: Path) -> str:
    return str(Path(root.name) / path.relative_to(root)) if root.is_dir() else path.name


def load_talkers(dirs: Sequence[str | os.PathLike], sample_rate: int, max_files: int = MAX_TALKER_FILES) -> list[np.ndarray]:
    """Speech for babble noise: up to ``max_files`` files spread evenly over ``dirs``."""
    files = [f for d in dirs for f in find_audio_files(d)]
    return [read_mono(f, sample_rate) for f in select_files(files, max_files)]


OWN_BABBLE_NOTE = (
    "babble: talkers drawn from the clean set itself (no --babble-dir given): for each file, other folders' files "
    "(other speakers, where the set has a folder per speaker), else its other files"
)


def _own_talkers(files: Sequence[Path], sample_rate: int) -> dict[Path, np.ndarray]:
    """Babble speech from the clean files themselves: up to :data:`MAX_TALKER_FILES` of them, by path."""
    if len(files) < 2:
        raise ValueError("babble noise needs speech of other talkers and the clean set has one file: pass --babble-dir DIR "
                         "(Python: babble_dirs=), or choose other noise with --noise")
    own = {}
    for f in select_files(list(files), MAX_TALKER_FILES):
        try:
            own[f] = read_mono(f, sample_rate)
        except ValueError:  # an unreadable file is skipped (and noted) where it is scored
            continue
    return own


def _other_talkers(own: dict[Path, np.ndarray], path: Path) -> list[np.ndarray]:
    """The talkers of ``own`` from other folders than ``path``'s (other speakers), else its other files."""
    others = [audio for f, audio in own.items() if f.parent != path.parent]
    return others or [audio for f, audio in own.items() if f != path]


def channel_sos(sample_rate: int) -> np.ndarray:
    """The ``channel`` condition's fixed microphone tilt and 300-3400 Hz band limit, as sos ``[sections, 6]``."""
    return np.concatenate([
        shelf_sos(400, -CHANNEL_TILT_DB, sample_rate, "low"),
        shelf_sos(2000, CHANNEL_TILT_DB, sample_rate, "high"),
        band_limit_sos(*CHANNEL_BAND_HZ, sample_rate),
    ])  # fmt: skip


def make_condition(
    kind: str,
    clean: np.ndarray,
    snr_db: float,
    rng: np.random.Generator,
    sample_rate: int,
    *,
    room_rng: np.random.Generator | None = None,
    talkers: Sequence[np.ndarray] = (),
    music: Sequence[np.ndarray] = (),
    recordings: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """The reference and the noisy mixture of one clean file under one condition.

    For a noise type the reference is ``clean`` and the noise is mixed at ``snr_db``. ``reverb``:
    ``clean`` in a synthetic room (RT60 :data:`REVERB_RT60_S`, the rest drawn from ``room_rng``) plus pink
    noise at ``snr_db`` against the reverberant speech, which is also the reference: the model is
    asked to remove noise, not the room. ``channel``: a phone line (:func:`channel_sos` on speech and
    pink noise alike, mixed at ``snr_db``, then GSM 6.10); the reference is the clean speech through
    the same line.

    Args:
        kind: one of :data:`CONDITION_TYPES`.
        clean: clean speech ``[samples]`` float32.
        snr_db: speech-to-noise ratio, in dB.
        rng: draws the noise.
        sample_rate: in Hz.
        room_rng: draws the room of ``reverb`` (default: ``rng``).
        talkers: speech of other talkers, for ``babble``.
        music: music recordings, for ``music``.
        recordings: noise recordings (e.g. non-stationary effects), for ``recorded``.

    Returns:
        ``(reference, mixture)``, float32 ``[samples]`` each.
    """
    if kind == "reverb":
        room = synthetic_rir(REVERB_RT60_S, sample_rate, rng if room_rng is None else room_rng)
        reference = reverberate(clean, room)
        return reference, mix_at_snr(reference, make_noise("pink", len(clean), rng, sample_rate), snr_db)
    if kind == "channel":
        line = channel_sos(sample_rate)
        speech = apply_sos(clean, line)
        mixture = mix_at_snr(speech, apply_sos(make_noise("pink", len(clean), rng, sample_rate), line), snr_db)
        return codec_round_trip(speech, sample_rate, "gsm"), codec_round_trip(mixture, sample_rate, "gsm")
    if kind not in CONDITION_TYPES:
        raise ValueError(f"unknown condition {kind!r}; choose from {', '.join(CONDITION_TYPES)}")
    noise = make_noise(kind, len(clean), rng, sample_rate, talkers=talkers, recordings=recordings, music=music, babble_count=BABBLE_TALKERS)
    return clean, mix_at_snr(clean, noise, snr_db)


def evaluate(
    clean: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    systems: Sequence[System],
    *,
    noisy: str | os.PathLike | None = None,
    recipe: NoiseRecipe | None = None,
    babble_dirs: Sequence[str | os.PathLike] = (),
    music_dirs: Sequence[str | os.PathLike] = (),
    noise_dirs: Sequence[str | os.PathLike] = (),
    sample_rate: int = 8000,
    limit: int | None = None,
    examples: int = 3,
    max_delay_ms: float = 0.0,
    overwrite: bool = False,
    progress: bool = True,
    notes: Sequence[str] = (),
) -> EvalResult:
    """Denoise clean speech made noisy with every system, score it, and write the report.

    Args:
        clean: folders (searched recursively) or files of clean speech.
        out_dir: folder for the outputs (see the module docstring).
        systems: denoisers ``(audio [samples] float32, sample_rate) -> audio``; see :mod:`vqdsp.evaluation.systems`.
        noisy: folder of noisy recordings paired with ``clean`` by relative path or file name.
        recipe: synthetic noise instead (the default recipe when neither is given).
        babble_dirs: speech of other talkers for ``babble`` noise (none: the clean set's own other
            files, see :data:`OWN_BABBLE_NOTE`).
        music_dirs: folders or files of music for ``music`` noise (tracks never used in training).
        noise_dirs: folders or files of noise recordings for ``recorded`` noise (never used in training).
        sample_rate: rate everything is read, denoised and scored at, in Hz.
        limit: score at most this many clean files, spread evenly over the sorted list.
        examples: how many (file, condition) examples to save as WAVs and figures.
        max_delay_ms: search each output's constant delay up to this, in ms (see :func:`vqdsp.evaluation.metrics.align`).
        overwrite: replace the report of an earlier run in ``out_dir``.
        progress: show a progress bar over files.
        notes: extra lines for the report (e.g. systems skipped by :func:`~vqdsp.evaluation.systems.build_systems`).
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    if noisy is not None and recipe is not None:
        raise ValueError("give either paired noisy files or a noise recipe, not both")
    if not systems:
        raise ValueError("no systems to evaluate")
    if (out_dir / "summary.md").exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already holds an evaluation; pass --force (Python: overwrite=True) to replace it")
    pairs = _clean_files(clean)
    recipe = recipe or (NoiseRecipe() if noisy is None else None)
    conditions = recipe.conditions() if recipe else [("paired", math.nan)]
    talkers: list[np.ndarray] = []
    own_talkers: dict[Path, np.ndarray] = {}  # babble from the clean set itself, when no babble_dirs
    if recipe and "babble" in recipe.types:
        if babble_dirs:
            talkers = load_talkers(babble_dirs, sample_rate)
        else:
            own_talkers = _own_talkers([f for _, f in pairs], sample_rate)
            notes = [*notes, OWN_BABBLE_NOTE]
    music: list[np.ndarray] = []
    if recipe and "music" in recipe.types:
        if not music_dirs:
            raise ValueError("music noise needs music recordings: pass --music-dir DIR (Python: music_dirs=), tracks never used in training")
        music = load_talkers(music_dirs, sample_rate)
    recordings: list[np.ndarray] = []
    if recipe and "recorded" in recipe.types:
        if not noise_dirs:
            raise ValueError("recorded noise needs noise recordings: pass --noise-dir DIR (Python: noise_dirs=), recordings never used in training")
        recordings = load_talkers(noise_dirs, sample_rate)
    index = {f: i for i, (_, f) in enumerate(pairs)}
    chosen = select_files([f for _, f in pairs], limit)
    roots = dict((f, r) for r, f in pairs)
    by_stem = {f.stem: f for f in find_audio_files(noisy)} if noisy is not None else {}
    max_delay = round(max_delay_ms * sample_rate / 1000)
    n_examples = min(examples, len(chosen))
    step = len(conditions) // max(1, min(n_examples, len(conditions))) + 1  # spread over types and SNRs
    wanted = {(k, k * step % len(conditions)) for k in range(n_examples)}

    if (out_dir / "summary.md").exists():  # overwrite: drop the earlier run's examples, which may have other names
        shutil.rmtree(out_dir / "examples", ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    caught_messages: Counter[str] = Counter()
    notes = list(notes) + [CONDITION_NOTES[kind] for kind in (recipe.types if recipe else ()) if kind in CONDITION_NOTES]
    partial = out_dir / "per_file.csv.partial"
    with partial.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["file", "noise", "snr_db", "system", *METRICS])
        writer.writeheader()
        for k, path in enumerate(tqdm(chosen, desc="evaluating", unit="file", disable=not progress)):
            root = roots[path]
            try:
                clean_audio = read_mono(path, sample_rate)
                paired = read_mono(_noisy_partner(root, path, Path(noisy), by_stem), sample_rate) if noisy is not None else None
            except ValueError as err:
                notes.append(f"skipped {path}: {err}")
                continue
            if len(clean_audio) < MIN_SECONDS * sample_rate:  # too short for any score
                notes.append(f"skipped {path}: {len(clean_audio) / sample_rate * 1000:.0f} ms, shorter than the {MIN_SECONDS:g} s the scores need")
                continue
            for c, (kind, snr) in enumerate(conditions):
                if paired is not None:
                    ref, mixture = clean_audio, paired
                else:
                    assert recipe is not None  # no paired noisy files: a recipe (the default one at least)
                    rng = np.random.default_rng([recipe.seed, index[path], c])
                    room_rng = np.random.default_rng([ROOM_STREAM, recipe.seed, index[path], c])
                    voices = talkers or _other_talkers(own_talkers, path)
                    try:
                        ref, mixture = make_condition(kind, clean_audio, snr, rng, sample_rate, room_rng=room_rng, talkers=voices, music=music, recordings=recordings)
                    except ValueError as err:
                        notes.append(f"skipped {path} at {kind} {snr:g} dB: {err}")
                        continue
                outputs = {s.name: s(mixture, sample_rate) for s in systems}
                for name, out in outputs.items():
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        scores = score(ref, out, sample_rate, max_delay=max_delay).as_dict()
                    caught_messages.update(re.sub(r"\d+\.\d+ s clip", "shorter clip", str(w.message)) for w in caught)
                    row = {"file": _label(root, path), "noise": kind, "snr_db": snr, "system": name, **scores}
                    writer.writerow(row)
                    rows.append({k_: row[k_] for k_ in ("noise", "snr_db", "system", *METRICS)})
                if (k, c) in wanted:
                    _save_example(out_dir, f"{k:02d}_{_short(path.stem)}_{_condition_name(kind, snr)}", ref, mixture, outputs, sample_rate)
            fh.flush()
    if not rows:  # nothing was scored: no report of n/a, an error that says why
        partial.unlink()
        skips = [n for n in notes if n.startswith("skipped")]
        why = f"{len(skips)} skipped, the first: {skips[0]}" if skips else "no clean files"
        raise ValueError(f"no file could be scored ({len(chosen)} tried, {why})")
    os.replace(partial, out_dir / "per_file.csv")
    notes += [f"{count} score(s) NaN: {message}" for message, count in caught_messages.items()]
    summary = summarize(rows, conditions, [s.name for s in systems], metrics_for_rate(sample_rate))
    markdown = write_report(out_dir, summary, conditions, [s.name for s in systems], notes, len(chosen), sample_rate)
    return EvalResult(out_dir, summary, markdown, len(chosen), notes)


def _short(stem: str) -> str:
    """A file stem for a folder name: the part after the last ``__`` (flattened paths), at most 40 characters."""
    return stem.rsplit("__", 1)[-1][-40:]


def _condition_name(kind: str, snr: float) -> str:
    return kind if math.isnan(snr) else f"{kind}_{snr:g}dB"


def summarize(rows: list[dict], conditions: list[tuple[str, float]], systems: list[str], metrics: Sequence[str] = METRICS) -> list[dict]:
    """Mean, 95% CI, n and NaN count per (condition, system, metric of ``metrics``), plus ``all`` over every condition."""
    out = []
    groups = [(kind, snr) for kind, snr in conditions] + [("all", math.nan)]
    for kind, snr in groups:
        for system in systems:
            sel = [r for r in rows if r["system"] == system and (kind == "all" or (r["noise"] == kind and (r["snr_db"] == snr or math.isnan(snr))))]
            for metric in metrics:
                values = [r[metric] for r in sel]
                mean, ci, n = mean_ci95(values)
                out.append({"noise": kind, "snr_db": snr, "system": system, "metric": metric, "mean": mean, "ci95": ci, "n": n, "skipped": len(values) - n})
    return out


def _cell(entry: dict) -> str:
    d = DIGITS[entry["metric"]]
    if entry["n"] == 0:
        return "n/a"
    mean = f"{entry['mean']:.{d}f}"
    mean = mean.lstrip("-") if float(mean) == 0 else mean  # no "-0.0"
    text = mean + ("" if math.isnan(entry["ci95"]) else f" ± {entry['ci95']:.{d}f}")
    return text + (f" ({entry['skipped']} skipped)" if entry["skipped"] else "")


def write_report(out_dir: Path, summary: list[dict], conditions: list[tuple[str, float]], systems: list[str], notes: list[str], files: int, sample_rate: int) -> str:
    """Write ``summary.csv`` and ``summary.md`` (the seed's metric x noisy/denoised table, then per condition), for the metrics in ``summary``."""
    with (out_dir / "summary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["noise", "snr_db", "system", "metric", "mean", "ci95", "n", "skipped"])
        writer.writeheader()
        writer.writerows(summary)
    at = {(e["noise"], e["snr_db"] if not math.isnan(e["snr_db"]) else None, e["system"], e["metric"]): e for e in summary}
    metrics = list(dict.fromkeys(e["metric"] for e in summary))
    pesq_band = "nb" if sample_rate < 16000 else "wb"
    label = {**LABELS, "pesq": f"PESQ-{pesq_band}"}
    head = "| {} | " + " | ".join(systems) + " |\n|---|" + "---|" * len(systems) + "\n"
    lines = [
        f"# Evaluation\n\n{files} clean files at {sample_rate} Hz. Mean ± 95% confidence interval (Student's t) "
        "over files (for *all conditions*: over every file and condition); ↑ higher is better, ↓ lower is better.\n\n"
    ]
    lines.append("## All conditions\n\n" + head.format("metric"))
    for m in metrics:
        lines.append(f"| {label[m]} {BETTER[m]} | " + " | ".join(_cell(at["all", None, s, m]) for s in systems) + " |\n")
    for m in metrics:
        lines.append(f"\n## {label[m]} {BETTER[m]} by condition\n\n" + head.format("noise | SNR (dB)").replace("|---|", "|---|---|", 1))
        for kind, snr in conditions:
            key = None if math.isnan(snr) else snr
            lines.append(f"| {kind} | {'' if key is None else f'{snr:g}'} | " + " | ".join(_cell(at[kind, key, s, m]) for s in systems) + " |\n")
    if notes:
        lines.append("\n## Notes\n\n" + "".join(f"- {n}\n" for n in notes))
    text = "".join(lines)
    (out_dir / "summary.md").write_text(text, encoding="utf-8")
    return text


def spectrogram_figure(clean: np.ndarray, noisy: np.ndarray, outputs: dict[str, np.ndarray], sample_rate: int, title: str = ""):
    """Clean / noisy / each denoised log-magnitude spectrogram side by side (the seed's figure), one colour scale.

    ``outputs`` maps system names to audio; the passthrough (``noisy``) is not drawn twice.
    Returns a :class:`matplotlib.figure.Figure` with one axis per panel, titled by panel.
    """
    from matplotlib.figure import Figure

    from vqdsp.audio.stft import log_magnitude, stft
    from vqdsp.model.config import StftConfig

    scale = sample_rate / 8000
    nperseg = round(519 * scale)
    cfg = StftConfig(sample_rate=sample_rate, nperseg=nperseg, noverlap=nperseg - max(1, round(31 * scale)))
    panels = {"clean": clean, "noisy": noisy, **{k: v for k, v in outputs.items() if k != "noisy"}}
    specs = {k: log_magnitude(stft(np.asarray(v, dtype=np.float32), cfg), cfg) for k, v in panels.items()}
    vmax = float(specs["clean"].max())
    fig = Figure(figsize=(3.2 * len(specs), 3.2), layout="constrained")
    axes = fig.subplots(1, len(specs), sharey=True, squeeze=False)[0]
    extent = (0, len(clean) / sample_rate, 0, sample_rate / 2000)
    for ax, (name, spec) in zip(axes, specs.items(), strict=True):
        ax.imshow(spec, origin="lower", aspect="auto", extent=extent, vmin=vmax - 12, vmax=vmax, cmap="magma")
        ax.set(title=name, xlabel="time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    if title:
        fig.suptitle(title)
    return fig


def _save_example(out_dir: Path, name: str, clean: np.ndarray, noisy: np.ndarray, outputs: dict[str, np.ndarray], sample_rate: int) -> None:
    from vqdsp.audio.files import write_audio

    folder = out_dir / "examples" / name
    folder.mkdir(parents=True, exist_ok=True)
    for label, audio in {"clean": clean, "noisy": noisy, **{k: v for k, v in outputs.items() if k != "noisy"}}.items():
        write_audio(folder / f"{label.replace(':', '_')}.wav", np.asarray(audio, dtype=np.float32)[None], sample_rate)
    spectrogram_figure(clean, noisy, outputs, sample_rate, name).savefig(folder / "spectrograms.png", dpi=100)
    if not (out_dir / "spectrograms.png").exists() or name.startswith("00_"):
        shutil.copyfile(folder / "spectrograms.png", out_dir / "spectrograms.png")
