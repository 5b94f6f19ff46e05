"""Atomic file writes, and temporaries a later run can clean: readers see the old file or the whole new one.

Every temporary is named ``.<output name>.vqdsp-tmp-<host>-<pid>.<what>``, beside its output. A run that
is killed (SIGKILL, a power cut) cannot remove its own, so the next run removes those whose process no
longer exists on this host (:func:`clean_stale`) and leaves a live, concurrent run's alone. ``vqdsp
denoise`` and ``vqdsp master`` both do.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

TMP_TAG = ".vqdsp-tmp-"
NAME_MAX = 255  # bytes in one file name, on every common file system
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_TMP_NAME = re.compile(re.escape(TMP_TAG) + r"([A-Za-z0-9]*)-(\d+)\.")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    The temporary is removed when ``write`` raises (KeyboardInterrupt included); one left by a killed
    process is removed by :func:`clean_stale`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = temporary(path, "").name  # ".<name>.vqdsp-tmp-<host>-<pid>."; mkstemp adds a random part
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temporary(path: str | os.PathLike, what: str) -> Path:
    """A hidden temporary beside ``path`` owned by this process; ``what`` ends with the suffix it needs.

    A long output name is shortened (with a hash of it) so that the temporary's name still fits a file system.
    """
    path = Path(path)
    tag = f"{TMP_TAG}{_HOST}-{os.getpid()}.{what}"
    name = path.name
    room = NAME_MAX - len(os.fsencode(tag)) - 1 - 16  # the dot in front; what mkstemp appends
    if len(os.fsencode(name)) > room:
        digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
        name = os.fsencode(name)[: room - 13].decode(errors="ignore") + "~" + digest
    return path.with_name(f".{name}{tag}")


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
