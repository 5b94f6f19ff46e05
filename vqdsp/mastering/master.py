"""``vqdsp master``: clean and level folders of recordings in one command, safely and in parallel.

Each file goes: input measured (an unreadable file fails here, before anything is written) ->
streamed through the preset's chain into a hidden 32-bit float temporary file beside the
output -> that file measured (BS.1770 loudness, 4x true peak) -> streamed again with the gain
that reaches the loudness target, through the true-peak limiter where a peak would pass the
ceiling (:func:`~vqdsp.mastering.leveling.level_file`), into the output, written to a temporary file and renamed into
place -> the output measured for the report. Memory is
bounded by the chunk size at every step; inputs are only ever read.

An existing output counts as done (skipped unless ``overwrite``), so a re-run after an
interruption does what is missing. Files run in a process pool (the chain, model included,
is built once per worker; torch threads are split between workers; workers die with the
parent) or as Ray tasks. Temporaries, per-file records and write failures: see
:mod:`vqdsp.mastering.records`.
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
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from vqdsp.mastering import records
from vqdsp.mastering.leveling import LEVEL_TOLERANCE_LU, level_file
from vqdsp.mastering.presets import Preset

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3"}
LOSSLESS_FOR = {".mp3": (".flac", "PCM_24")}  # lossy inputs are written losslessly, not re-encoded
REPORT_NAME = "master-report"


@dataclass(frozen=True)
class Job:
    """One file to master: read ``source``, write ``target`` (in ``subtype``; None: the input's).

    ``record``: where to write the file's report as soon as it is done (None: nowhere).
    """

    source: str
    target: str
    subtype: str | None = None
    record: str | None = None


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
    gain_limited: bool | None = None  # the preset's max_gain_db, not the loudness target, set the gain
    held_back_lu: float | None = None  # how far under the target the gain (or, gain only, the peak) ceiling left the file
    limiter_max_reduction_db: float | None = None  # the true-peak limiter's largest gain reduction (None: no limiter)
    limited_percent: float | None = None  # share of the file the limiter turned down by over 0.1 dB
    seconds: float | None = None


# -- finding files ----------------------------------------------------------------------------------
def plan_jobs(inputs: Sequence[str], output_dir: str | os.PathLike, subtype: str | None = None) -> list[Job]:
    """Jobs for files, folders (searched recursively) and glob patterns, mirroring folders under ``output_dir``.

    A file given directly lands at ``output_dir/<name>``; a file found in folder ``D`` at
    ``output_dir/<its path under D>``; a file a glob pattern matches (or finds in a folder it
    matches) at ``output_dir/<its path under the pattern's fixed folders>``: ``rec/**/*.flac`` puts
    ``rec/sub/b.flac`` at ``output_dir/sub/b.flac``, as the folder ``rec`` would. Hidden files, and
    ``output_dir`` where it lies inside ``D``, are left out. Glob patterns (``**``: any folders below) follow no symlinked folder, so a
    symlink loop cannot hang the search. Raises ``FileNotFoundError`` for an input that matches nothing,
    ``ValueError`` when two inputs would write the same output or an output would replace an input, and
    :class:`~vqdsp.mastering.records.OutputError` (a ValueError) when ``output_dir`` cannot be written.
    """
    records.check_output_dir(output_dir)
    out = Path(output_dir).resolve()
    jobs: dict[Path, Job] = {}
    for pattern in inputs:
        given = Path(pattern).exists()
        base, matches = (None, [pattern]) if given else _glob(pattern)
        if not matches:
            raise FileNotFoundError(f"no such file, folder or match: {pattern}")
        for match in map(Path, matches):
            under = match.relative_to(base) if base is not None else Path()  # where a glob match sits under its fixed folders
            if match.is_dir():
                found = [(f, under / f.relative_to(match)) for f in sorted(match.rglob("*"))]
            else:
                found = [(match, under if base is not None else Path(match.name))]
            if match.is_file() and match.suffix.lower() not in AUDIO_SUFFIXES and given:
                raise ValueError(f"{match} is not a file vqdsp master reads; use {', '.join(sorted(AUDIO_SUFFIXES))}")
            # An output folder inside an input folder holds earlier results, not inputs.
            skip = out if match.is_dir() and out != match.resolve() and out.is_relative_to(match.resolve()) else None
            for source, relative in found:
                if not _is_audio(source, skip) or (match.is_dir() and _hidden(relative.relative_to(under))):
                    continue
                suffix, forced = LOSSLESS_FOR.get(source.suffix.lower(), (source.suffix, None))
                target = out / relative.with_suffix(suffix)
                if target == source.resolve():
                    raise ValueError(f"{source} would be written over itself; choose an output folder outside the inputs")
                if target in jobs and Path(jobs[target].source).resolve() != source.resolve():
                    raise ValueError(f"{jobs[target].source} and {source} would both be written to {target}; master them separately")
                jobs[target] = Job(os.path.abspath(source), str(target), subtype or forced)  # the report: absolute paths, both
    return list(jobs.values())


def _is_audio(path: Path, skip: Path | None) -> bool:
    if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES or path.name.startswith("."):
        return False
    return skip is None or not path.resolve().is_relative_to(skip)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _glob(pattern: str) -> tuple[Path, list[str]]:
    """The fixed folders ahead of ``pattern``'s first wildcard, and its matches, like
    ``glob.glob(pattern, recursive=True)`` (hidden names left out), but with pathlib's walk, which
    does not descend into symlinked folders: a link loop (``d/self -> .``) is visited once instead
    of until the path length runs out."""
    parts = Path(pattern).parts
    first = next((i for i, part in enumerate(parts) if glob.has_magic(part)), None)
    if first is None:
        return Path("."), []
    base = Path(*parts[:first]) if first else Path(".")
    found = (p for p in base.glob(str(Path(*parts[first:]))) if not _hidden(p.relative_to(base)))
    return base, sorted(str(p) for p in found)


# -- one file ------------------------------------------------------------------------------------
def master_file(job: Job, board, preset: Preset, overwrite: bool = False, chunk_seconds: float = 10.0) -> FileReport:
    """Master one file with ``board`` (the preset's built chain); never raises for a bad input, reports it."""
    from vqdsp.audio.files import process_file
    from vqdsp.mastering.loudness import measure_file

    start = time.perf_counter()
    source, target = Path(job.source), Path(job.target)
    report = FileReport(job.source, job.target, "done")
    if target.exists() and not overwrite:
        report.status = "skipped"
        return report
    processed, staged = records.temporary(target, "processing.w64"), records.temporary(target, "out" + target.suffix)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # a read-only sub-folder fails this file, not the batch
        measured = measure_file(source, chunk_seconds)
        report.duration_s = measured.duration_s
        report.input_lufs, report.input_true_peak_dbtp, report.input_sample_peak_dbfs = (
            measured.integrated_lufs, measured.true_peak_dbtp, measured.sample_peak_dbfs
        )
        from vqdsp.audio.files import open_audio

        with open_audio(source) as (info, _):
            subtype = job.subtype or info.subtype
        process_file(board, source, processed, overwrite=True, subtype="FLOAT", chunk_seconds=chunk_seconds)
        levelled = level_file(processed, staged, preset, subtype, chunk_seconds)
        result = levelled.output
        report.gain_db, report.peak_limited, report.gain_limited = levelled.gain_db, levelled.peak_limited, levelled.gain_limited
        report.limiter_max_reduction_db, report.limited_percent = levelled.limiter_max_reduction_db, levelled.limited_percent
        report.output_lufs, report.output_true_peak_dbtp, report.output_sample_peak_dbfs = (
            result.integrated_lufs, result.true_peak_dbtp, result.sample_peak_dbfs
        )
        if (report.gain_limited or report.peak_limited) and preset.target_lufs is not None and math.isfinite(result.integrated_lufs):
            report.held_back_lu = preset.target_lufs - result.integrated_lufs
        report.seconds = time.perf_counter() - start
        if job.record:  # the record first: a kill between the two leaves no output, so a rerun redoes the file
            records.write_record(job.record, asdict(report))
        os.replace(staged, target)
    except Exception as err:  # one bad file must not stop the batch: report it and go on
        problem = records.folder_problem(target.parent, err)
        report.status, report.error = "failed", problem or f"{type(err).__name__}: {err}"
        report.seconds = time.perf_counter() - start
        if job.record:
            try:
                records.write_record(job.record, asdict(report))
            except OSError:  # the folder is full or read-only: the batch report still has the file
                pass
    finally:
        processed.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)
    return report


# -- backends --------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(preset: Preset, threads: int, parent: int | None = None) -> None:
    import torch

    if parent is not None:
        _die_with(parent)
    torch.set_num_threads(threads)
    _WORKER["preset"], _WORKER["board"] = preset, preset.build()


def _die_with(parent: int) -> None:
    """End this worker when process ``parent`` ends, however it ends (SIGKILL included), not minutes later.

    Linux: the kernel sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``); elsewhere, and for a
    parent that died before that was set, a watchdog thread polls the parent id.
    """
    import threading

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="vqdsp-parent-watch", daemon=True).start()


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
    initargs = (preset, threads, os.getpid())
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=initargs) as pool:
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
    touched (:class:`~vqdsp.mastering.presets.PresetError`). Temporaries that dead runs left in the
    output folders are removed first. Each file's record is written as soon as it is done, and the
    report is merged from the records: it keeps the measurements of files done by earlier
    (interrupted) or concurrent runs, skipped ones included. It is written even when the batch is
    interrupted (files not reached are left out of it); a report that cannot be written raises
    :class:`~vqdsp.mastering.records.OutputError` naming the folder.

    Args:
        workers: processes for the ``pool`` backend (1: this process).
        backend: ``"pool"`` (local processes) or ``"ray"`` (Ray tasks, one CPU each).
        progress: show a progress bar (None: only on a terminal).
        ray_address: Ray cluster to join (None: ``RAY_ADDRESS`` or a local instance).
    """
    from tqdm import tqdm

    board = preset.build()
    # what killed runs left: beside the outputs, and in the records folder (a worker killed while writing its record)
    records.clean_stale({Path(output_dir), Path(output_dir) / records.RECORDS_DIR} | {Path(j.target).parent for j in jobs})
    jobs = [replace(j, record=str(records.record_path(output_dir, j.target))) for j in jobs]
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
            elif (note := held_back_note(report, preset)) is not None:
                bar.write(f"vqdsp: {report.input}: {note}", file=sys.stderr)
    finally:
        bar.close()
        reports = merge_records(reports, output_dir)
        try:
            write_report(reports, preset, output_dir, time.perf_counter() - started)
        except OSError as err:
            problem = records.folder_problem(Path(output_dir), err) or f"cannot write the report into {output_dir}: {err}"
            raise records.OutputError(f"{problem}; the outputs and per-file records are in place") from err
    return reports


def held_back_note(report: FileReport, preset: Preset) -> str | None:
    """Why a mastered file ended under the loudness target, or None when it reached it."""
    if report.held_back_lu is None or report.held_back_lu <= LEVEL_TOLERANCE_LU:
        return None
    if report.gain_limited:
        why = f"the gain ceiling (max_gain_db = {preset.max_gain_db:g}) held it back; mostly noise or very quiet?"
    else:
        why = f"the true-peak ceiling held it back (gain only: set limiter = true in the preset to reach {preset.target_lufs:g} LUFS)"
    return f"{report.held_back_lu:.1f} LU under the target: {why}"


def merge_records(reports: Sequence[FileReport], output_dir: str | os.PathLike) -> list[FileReport]:
    """``reports`` of this run with what the records under ``output_dir`` know.

    A file this run skipped gets the measurements its record holds (status stays ``skipped``); files
    that other runs finished into the same folder (their outputs exist) are added.
    """
    names = {f.name for f in fields(FileReport)}
    stored = {row["output"]: row for row in records.read_records(output_dir)}
    merged = {}
    for report in reports:
        row = stored.get(report.output)
        if report.status == "skipped" and row and row.get("status") == "done":
            report = FileReport(**{**{k: v for k, v in row.items() if k in names}, "status": "skipped"})
        merged[report.output] = report
    for output, row in stored.items():
        if output not in merged and row.get("status") == "done" and Path(output).exists():
            merged[output] = FileReport(**{k: v for k, v in row.items() if k in names})
    return list(merged.values())


def write_report(reports: Sequence[FileReport], preset: Preset, output_dir: str | os.PathLike, seconds: float) -> Path:
    """Write ``master-report.json`` (summary and files) and ``master-report.csv`` (files) atomically."""
    out = Path(output_dir)
    rows = [records.json_ready(asdict(r)) for r in sorted(reports, key=lambda r: r.input)]  # silence: -inf -> None
    summary = {status: sum(r.status == status for r in reports) for status in ("done", "skipped", "failed")}
    audio = sum(r.duration_s or 0.0 for r in reports if r.status == "done")
    doc = {
        "preset": preset.name, "target_lufs": preset.target_lufs, "true_peak_dbtp": preset.true_peak_dbtp,
        "max_gain_db": preset.max_gain_db, "limiter": preset.limiter, "limiter_release_ms": preset.limiter_release_ms,
        "summary": {**summary, "seconds": seconds, "audio_seconds": audio}, "files": rows,
    }
    records.write_text(out / f"{REPORT_NAME}.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [f.name for f in fields(FileReport)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    records.write_text(out / f"{REPORT_NAME}.csv", buffer.getvalue())
    return out / f"{REPORT_NAME}.json"
