"""What ``vqdsp master`` keeps on disk beside the outputs: per-file records and temporaries a rerun can clean.

A batch can be SIGKILLed, run twice at once, or run out of disk. So:

- every temporary file is named ``.<output name>.vqdsp-tmp-<host>-<pid>.<what>``: a later run removes
  those whose process no longer exists on this host (what a kill leaves) and leaves a live
  (concurrent) run's alone;
- each finished file's report is written atomically, as soon as the file is done, to
  ``<output folder>/.vqdsp-master/<key>.json``; the batch report is merged from these records, so
  measurements survive interrupted and overlapping runs;
- write failures are named by what is wrong with the folder ("no space left on ...",
  "cannot write to ..."), and the output folder is checked before the batch starts.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from vqdsp.atomic import TMP_TAG, clean_stale, temporary

__all__ = ["RECORDS_DIR", "TMP_TAG", "OutputError", "check_output_dir", "clean_stale", "folder_problem", "json_ready",
           "read_records", "record_path", "temporary", "write_record", "write_text"]

RECORDS_DIR = ".vqdsp-master"
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}


class OutputError(ValueError):
    """The output folder cannot be written: full, read-only or not ours. The message names the folder."""


# -- per-file records ------------------------------------------------------------------------------
def record_path(output_dir: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Where the record of the output ``target`` lives (keyed by its path under ``output_dir``)."""
    out, target = Path(output_dir).resolve(), Path(target).resolve()
    key = target.relative_to(out).as_posix() if target.is_relative_to(out) else str(target)
    return out / RECORDS_DIR / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def json_ready(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with non-finite floats (the loudness of silence is -inf) as None, so it is strict JSON."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def write_record(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """Write one file's report ``row`` to ``path`` (from :func:`record_path`) atomically (readers see the old
    record or the new one). The output is kept as its path under the output folder too (``key``), so the
    record stays true when the folder is copied or moved."""
    path = Path(path)
    out, target = path.parent.parent.resolve(), Path(row["output"]).resolve()
    key = {"key": target.relative_to(out).as_posix()} if target.is_relative_to(out) else {}
    write_text(path, json.dumps(json_ready({**row, **key}), allow_nan=False) + "\n")


def read_records(output_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record under ``output_dir``, its ``output`` under ``output_dir`` as it is now (where the record
    was written in a folder since copied or moved); unreadable ones, e.g. from an older version, are ignored."""
    out = Path(output_dir).resolve()
    rows = []
    for path in sorted((out / RECORDS_DIR).glob("*.json")):
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(row, dict) and isinstance(row.get("output"), str):
            if isinstance(row.get("key"), str) and not Path(row["key"]).is_absolute() and ".." not in Path(row["key"]).parts:
                row["output"] = str(out / row.pop("key"))
            rows.append(row)
    return rows


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary of this process, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path, "tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- write failures ----------------------------------------------------------------------------------
def folder_problem(folder: Path, err: BaseException | None = None) -> str | None:
    """"no space left on <folder>" or "cannot write to <folder>" when that is why ``err`` happened, else None.

    ``err`` is read first (an OSError's errno); other errors (libsndfile says only "System error.")
    are explained by trying to write a small file into ``folder``.
    """
    code = getattr(err, "errno", None) if isinstance(err, OSError) else None
    if code is None:
        code = _probe(folder)
    if code in _NO_SPACE:
        return f"no space left on {folder}"
    if code in _NO_WRITE:
        return f"cannot write to {folder} (read-only or no permission)"
    if err is not None and str(err).strip() == "System error.":  # libsndfile's only word for a failed write
        free = _free_bytes(folder)  # a small probe may still fit where the write that failed did not
        if free is not None and free < NEARLY_FULL:
            return f"no space left on {folder} ({free / 2**20:.1f} MiB free)"
    return None


NEARLY_FULL = 16 << 20  # bytes: less free than this after a failed write is why it failed


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _probe(folder: Path) -> int | None:
    """The errno of writing 64 KiB into ``folder`` (None: it worked)."""
    probe = temporary(folder / "probe", "tmp")
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * 65536)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        return err.errno
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return None


def check_output_dir(output_dir: str | os.PathLike) -> None:
    """Create ``output_dir`` if needed and check it can be written; raises :class:`OutputError`."""
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:
        raise OutputError(f"the output folder {out} exists as a file; choose a folder") from err
    except OSError as err:
        existing = next((p for p in out.absolute().parents if p.exists()), out)
        raise OutputError(folder_problem(existing, err) or f"cannot create the output folder {out}: {err}") from err
    problem = folder_problem(out)
    if problem:
        raise OutputError(problem)
