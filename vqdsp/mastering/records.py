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
import re
import socket
from pathlib import Path
from typing import Any

TMP_TAG = ".vqdsp-tmp-"
RECORDS_DIR = ".vqdsp-master"
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_TMP_NAME = re.compile(re.escape(TMP_TAG) + r"([A-Za-z0-9]*)-(\d+)\.")
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}


class OutputError(ValueError):
    """The output folder cannot be written: full, read-only or not ours. The message names the folder."""


# -- temporaries ----------------------------------------------------------------------------------
def temporary(path: str | os.PathLike, what: str) -> Path:
    """A hidden temporary beside ``path`` owned by this process; ``what`` ends with the suffix it needs."""
    path = Path(path)
    return path.with_name(f".{path.name}{TMP_TAG}{_HOST}-{os.getpid()}.{what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clean_stale(folders: set[Path]) -> int:
    """Remove the temporaries that processes now dead (on this host) left in ``folders``; returns how many."""
    removed = 0
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:  # not created yet, or unreadable: nothing of ours there
            continue
        for entry in entries:
            match = _TMP_NAME.search(entry.name)
            if not entry.name.startswith(".") or not match or match.group(1) != _HOST or _alive(int(match.group(2))):
                continue
            try:
                os.unlink(entry.path)
                removed += 1
            except FileNotFoundError:  # a concurrent rerun cleaned it first
                pass
    return removed


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
    """Write one file's report ``row`` to ``path`` atomically (readers see the old record or the new one)."""
    path = Path(path)
    write_text(path, json.dumps(json_ready(row), allow_nan=False) + "\n")


def read_records(output_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record under ``output_dir`` (unreadable ones, e.g. from an older version, are ignored)."""
    rows = []
    for path in sorted((Path(output_dir) / RECORDS_DIR).glob("*.json")):
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(row, dict) and isinstance(row.get("output"), str):
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
