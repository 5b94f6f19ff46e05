from __future__ import annotations

import os
from pathlib import Path

import pytest

from vqdsp.atomic import atomic_write


def test_writes_the_whole_file_with_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    atomic_write(target, lambda tmp: tmp.write_text("done"))
    assert target.read_text() == "done"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_killed_writers_temporary_is_cleaned_by_the_next_run(tmp_path: Path) -> None:
    """The temporary carries this process's id, so that a later run removes it once the process is gone (D5)."""
    import subprocess
    import sys

    from vqdsp.atomic import clean_stale

    seen: list[Path] = []
    atomic_write(tmp_path / "out.wav", lambda tmp: seen.append(tmp) or tmp.write_text("x"))
    assert f"-{os.getpid()}." in seen[0].name
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    left = tmp_path / seen[0].name.replace(f"-{os.getpid()}.", f"-{int(done.stdout)}.")
    left.write_text("half")
    assert clean_stale({tmp_path}) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_a_long_name_still_gets_a_temporary(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 250 + ".wav")  # 254 bytes: ".<name>.vqdsp-tmp-..." would not fit unshortened
    atomic_write(target, lambda tmp: tmp.write_text("done"))
    assert target.read_text() == "done"
