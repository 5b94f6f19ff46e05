"""``vqdsp master``: clean and level folders of recordings in one command, safely and in parallel.

Each file goes: input measured (an unreadable file fails here, before anything is written) ->
streamed through the preset's chain into a hidden 32-bit float temporary file beside the
output -> that file measured (BS.1770 loudness, 4x true peak) -> streamed again with the one
gain that reaches the loudness target under the true-peak ceiling, into the output, written to
a temporary file and renamed into place -> the output measured for the report. Memory is
bounded by the chunk size at every step; inputs are only ever read.

An existing output counts as done (skipped unless ``overwrite``), so a re-run after an
interruption does what is missing. Files run in a process pool (the chain, model included,
is built once per worker; torch threads are split between workers) or as Ray tasks.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from vqdsp.atomic import atomic_write
from vqdsp.mastering.presets import Preset

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3"}
LOSSLESS_FOR = {".mp3": (".flac", "PCM_24")}  # lossy inputs are written losslessly, not re-encoded
REPORT_NAME = "master-report"


@dataclass(frozen=True)
class Job:
    """One file to master: read ``source``, write ``target`` (in ``subtype``; None: the input's)."""

    source: str
    target: str
    subtype: str | None = None


@dataclass
class FileReport:
    """What happened to one file; levels in LUFS / dBTP / dBFS, times in seconds."""

    input: str
    output: str
    status: str  # "done", "skipped" (output exists) or "failed"
    error: str = ""
    duration_s: float | None = None
    input_lufs: float | None = None
    input_true_peak_dbtp: float | None = None
    input_sample_peak_dbfs: float | None = None
    output_lufs: float | None = None
    output_true_peak_dbtp: float | None = None
    output_sample_peak_dbfs: float | None = None
    gain_db: float | None = None
    peak_limited: bool | None = None
    seconds: float | None = None


# -- finding files ----------------------------------------------------------------------------------
def plan_jobs(inputs: Sequence[str], output_dir: str | os.PathLike, subtype: str | None = None) -> list[Job]:
    """Jobs for files, folders (searched recursively) and glob patterns, mirroring folders under ``output_dir``.

    A file given directly lands at ``output_dir/<name>``; a file found in folder ``D`` at
    ``output_dir/<its path under D>``. Hidden files, and ``output_dir`` where it lies inside
    ``D``, are left out. Raises ``FileNotFoundError`` for an input that matches nothing and ``ValueError`` when
    two inputs would write the same output or an output would replace an input.
    """
    out = Path(output_dir).resolve()
    jobs: dict[Path, Job] = {}
    for pattern in inputs:
        matches = [pattern] if Path(pattern).exists() else sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise FileNotFoundError(f"no such file, folder or match: {pattern}")
        for match in map(Path, matches):
            found = [(f, f.relative_to(match)) for f in sorted(match.rglob("*"))] if match.is_dir() else [(match, Path(match.name))]
            if match.is_file() and match.suffix.lower() not in AUDIO_SUFFIXES and Path(pattern).exists():
                raise ValueError(f"{match} is not a file vqdsp master reads; use {', '.join(sorted(AUDIO_SUFFIXES))}")
            # An output folder inside an input folder holds earlier results, not inputs.
            skip = out if match.is_dir() and out != match.resolve() and out.is_relative_to(match.resolve()) else None
            for source, relative in found:
                if not _is_audio(source, skip) or (match.is_dir() and _hidden(relative)):
                    continue
                suffix, forced = LOSSLESS_FOR.get(source.suffix.lower(), (source.suffix, None))
                target = out / relative.with_suffix(suffix)
                if target == source.resolve():
                    raise ValueError(f"{source} would be written over itself; choose an output folder outside the inputs")
                if target in jobs and Path(jobs[target].source).resolve() != source.resolve():
                    raise ValueError(f"{jobs[target].source} and {source} would both be written to {target}; master them separately")
                jobs[target] = Job(str(source), str(target), subtype or forced)
    return list(jobs.values())


def _is_audio(path: Path, skip: Path | None) -> bool:
    if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES or path.name.startswith("."):
        return False
    return skip is None or not path.resolve().is_relative_to(skip)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


# -- one file ------------------------------------------------------------------------------------
def master_file(job: Job, board, preset: Preset, overwrite: bool = False, chunk_seconds: float = 10.0) -> FileReport:
    """Master one file with ``board`` (the preset's built chain); never raises for a bad input, reports it."""
    from vqdsp.audio.files import process_file
    from vqdsp.mastering.loudness import apply_gain_file, measure_file, normalisation_gain

    start = time.perf_counter()
    source, target = Path(job.source), Path(job.target)
    report = FileReport(job.source, job.target, "done")
    if target.exists() and not overwrite:
        report.status = "skipped"
        return report
    processed = target.with_name(f".{target.name}.{os.getpid()}.processing.w64")
    try:
        measured = measure_file(source, chunk_seconds)
        report.duration_s = measured.duration_s
        report.input_lufs, report.input_true_peak_dbtp, report.input_sample_peak_dbfs = (
            measured.integrated_lufs, measured.true_peak_dbtp, measured.sample_peak_dbfs
        )
        from vqdsp.audio.files import open_audio

        with open_audio(source) as (info, _):
            subtype = job.subtype or info.subtype
        process_file(board, source, processed, overwrite=True, subtype="FLOAT", chunk_seconds=chunk_seconds)
        norm = normalisation_gain(measure_file(processed, chunk_seconds), preset.target_lufs, preset.true_peak_dbtp)
        report.gain_db, report.peak_limited = norm.gain_db, norm.peak_limited
        apply_gain_file(processed, target, norm.gain_db, subtype, chunk_seconds)
        result = measure_file(target, chunk_seconds)
        report.output_lufs, report.output_true_peak_dbtp, report.output_sample_peak_dbfs = (
            result.integrated_lufs, result.true_peak_dbtp, result.sample_peak_dbfs
        )
    except Exception as err:  # one bad file must not stop the batch: report it and go on
        report.status, report.error = "failed", f"{type(err).__name__}: {err}"
    finally:
        processed.unlink(missing_ok=True)
        report.seconds = time.perf_counter() - start
    return report


# -- backends --------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(preset: Preset, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["preset"], _WORKER["board"] = preset, preset.build()


def _work(job: Job, overwrite: bool, chunk_seconds: float) -> FileReport:
    return master_file(job, _WORKER["board"], _WORKER["preset"], overwrite, chunk_seconds)


def _ray_work(job: Job, preset: Preset, overwrite: bool, chunk_seconds: float) -> FileReport:
    if _WORKER.get("preset") != preset:  # a Ray worker process builds the chain once and keeps it
        _init_worker(preset, 1)
    return _work(job, overwrite, chunk_seconds)


def _run_serial(jobs, preset, overwrite, chunk_seconds, board) -> Iterator[FileReport]:
    for job in jobs:
        yield master_file(job, board, preset, overwrite, chunk_seconds)


def _run_pool(jobs, preset, overwrite, chunk_seconds, workers) -> Iterator[FileReport]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # fork after torch has started threads can hang
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(preset, threads)) as pool:
        futures = {pool.submit(_work, job, overwrite, chunk_seconds): job for job in jobs}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as err:  # a worker that died (out of memory, crash) fails its file
                    job = futures[future]
                    yield FileReport(job.source, job.target, "failed", f"worker failed: {type(err).__name__}: {err}")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _run_ray(jobs, preset, overwrite, chunk_seconds, address) -> Iterator[FileReport]:
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address)
    try:
        task = ray.remote(num_cpus=1)(_ray_work)
        pending = {task.remote(job, preset, overwrite, chunk_seconds): job for job in jobs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    yield ray.get(done[0])
                except Exception as err:  # a task whose worker died
                    yield FileReport(job.source, job.target, "failed", f"ray task failed: {type(err).__name__}: {err}")
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
    finally:
        if started:
            ray.shutdown()


# -- batch ----------------------------------------------------------------------------------------
def master(
    jobs: Sequence[Job],
    preset: Preset,
    output_dir: str | os.PathLike,
    workers: int = 1,
    backend: str = "pool",
    overwrite: bool = False,
    chunk_seconds: float = 10.0,
    ray_address: str | None = None,
    progress: bool | None = None,
) -> list[FileReport]:
    """Master ``jobs`` with ``preset``; writes ``master-report.json`` and ``.csv`` into ``output_dir``.

    The chain is built here first, so a preset that cannot be built fails before any file is
    touched (:class:`~vqdsp.mastering.presets.PresetError`). The report is written even when the batch is
    interrupted (files not reached are left out of it).

    Args:
        workers: processes for the ``pool`` backend (1: this process).
        backend: ``"pool"`` (local processes) or ``"ray"`` (Ray tasks, one CPU each).
        progress: show a progress bar (None: only on a terminal).
        ray_address: Ray cluster to join (None: ``RAY_ADDRESS`` or a local instance).
    """
    from tqdm import tqdm

    board = preset.build()
    todo = [job for job in jobs if overwrite or not Path(job.target).exists()]
    reports = [FileReport(j.source, j.target, "skipped") for j in jobs if j not in todo]
    if backend == "ray":
        results = _run_ray(todo, preset, overwrite, chunk_seconds, ray_address)
    elif backend == "pool" and workers > 1 and len(todo) > 1:
        results = _run_pool(todo, preset, overwrite, chunk_seconds, min(workers, len(todo)))
    elif backend == "pool":
        results = _run_serial(todo, preset, overwrite, chunk_seconds, board)
    else:
        raise ValueError(f"unknown backend {backend!r}; use 'pool' or 'ray'")
    bar = tqdm(total=len(todo), unit="file", disable=None if progress is None else not progress, desc="mastering")
    started = time.perf_counter()
    try:
        for report in results:
            reports.append(report)
            bar.update()
            if report.status == "failed":
                bar.write(f"vqdsp: failed: {report.input}: {report.error}", file=sys.stderr)
    finally:
        bar.close()
        write_report(reports, preset, output_dir, time.perf_counter() - started)
    return reports


def write_report(reports: Sequence[FileReport], preset: Preset, output_dir: str | os.PathLike, seconds: float) -> Path:
    """Write ``master-report.json`` (summary and files) and ``master-report.csv`` (files) atomically."""
    out = Path(output_dir)
    rows = [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(r).items()}  # silence: -inf
        for r in sorted(reports, key=lambda r: r.input)
    ]
    summary = {status: sum(r.status == status for r in reports) for status in ("done", "skipped", "failed")}
    audio = sum(r.duration_s or 0.0 for r in reports if r.status == "done")
    doc = {
        "preset": preset.name, "target_lufs": preset.target_lufs, "true_peak_dbtp": preset.true_peak_dbtp,
        "summary": {**summary, "seconds": seconds, "audio_seconds": audio}, "files": rows,
    }
    text = json.dumps(doc, indent=2, allow_nan=False)
    atomic_write(out / f"{REPORT_NAME}.json", lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [f.name for f in fields(FileReport)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / f"{REPORT_NAME}.csv", lambda tmp: tmp.write_text(buffer.getvalue(), encoding="utf-8"))
    return out / f"{REPORT_NAME}.json"
