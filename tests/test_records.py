"""What `vqdsp master` keeps beside the outputs: temporaries a rerun can clean, per-file records, folder checks."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vqdsp.mastering import records


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_temporaries_name_their_process_and_keep_the_suffix(tmp_path: Path) -> None:
    tmp = records.temporary(tmp_path / "a.flac", "out.flac")
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".a.flac" + records.TMP_TAG)
    assert tmp.suffix == ".flac"
    assert f"-{os.getpid()}." in tmp.name


def test_clean_stale_removes_only_dead_processes_files(tmp_path: Path) -> None:
    mine = records.temporary(tmp_path / "a.wav", "processing.w64")
    dead = Path(str(mine).replace(f"-{os.getpid()}.", f"-{_dead_pid()}."))
    dead_atomic = dead.with_name("." + dead.name + ".x1y2.tmp")
    plain = tmp_path / ".a.wav.12345.tmp"  # not ours: no tag
    for path in (mine, dead, dead_atomic, plain):
        path.write_bytes(b"x")
    assert records.clean_stale({tmp_path, tmp_path / "missing"}) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, plain.name])


def test_records_round_trip_and_survive_a_bad_one(tmp_path: Path) -> None:
    path = records.record_path(tmp_path, tmp_path / "sub" / "a.wav")
    assert path.parent == tmp_path.resolve() / records.RECORDS_DIR
    assert path != records.record_path(tmp_path, tmp_path / "a.wav")
    records.write_record(path, {"output": str(tmp_path / "sub" / "a.wav"), "input_lufs": float("-inf"), "gain_db": 3.0})
    (path.parent / "broken.json").write_text("{")
    assert records.read_records(tmp_path) == [{"output": str(tmp_path / "sub" / "a.wav"), "input_lufs": None, "gain_db": 3.0}]
    assert not [p for p in path.parent.iterdir() if records.TMP_TAG in p.name]


@pytest.mark.parametrize(
    ("code", "message"),
    [(errno.ENOSPC, "no space left on {}"), (errno.EROFS, "cannot write to {} (read-only"), (errno.EACCES, "cannot write to {} (read-only")],
)
def test_folder_problems_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, message: str) -> None:
    assert records.folder_problem(tmp_path, OSError(code, "x")).startswith(message.format(tmp_path))
    assert records.folder_problem(tmp_path, RuntimeError("System error.")) is None  # the folder is fine: not blamed
    monkeypatch.setattr(records, "_probe", lambda folder: code)  # libsndfile's "System error." on a full disk
    assert records.folder_problem(tmp_path, RuntimeError("System error.")).startswith(message.format(tmp_path))
    with pytest.raises(records.OutputError, match=re.escape(message.format(tmp_path / "new"))):
        records.check_output_dir(tmp_path / "new")


def test_check_output_dir(tmp_path: Path) -> None:
    records.check_output_dir(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert not list((tmp_path / "a" / "b").iterdir())
    (tmp_path / "f").write_text("")
    with pytest.raises(records.OutputError, match="exists as a file"):
        records.check_output_dir(tmp_path / "f")
    with pytest.raises(records.OutputError, match="cannot create the output folder"):
        records.check_output_dir(tmp_path / "f" / "out")
