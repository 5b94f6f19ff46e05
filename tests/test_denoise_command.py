"""`vqdsp denoise` on the faults of the second sweep: long names, MP3 rates, full disks, unreadable files and
FIFOs, and a run stopped by SIGTERM, Ctrl-C or SIGKILL (D1-D5): one error line, no traceback, no temporary left."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vqdsp.atomic import TMP_TAG
from vqdsp.cli import main

from utils import speech_like


def _wav(path: Path, rate: int = 16000, seconds: float = 0.5) -> Path:
    sf.write(path, speech_like(seconds, rate), rate, subtype="PCM_16")
    return path


def _one_error(capsys: pytest.CaptureFixture, *parts: str) -> None:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err


def test_a_default_output_name_too_long_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = _wav(tmp_path / ("x" * 245 + ".wav"))  # D1: INPUT.denoised.wav would be 258 bytes
    assert main(["denoise", str(source)]) == 1
    _one_error(capsys, "OUTPUT name", "258 bytes, longer than the 255", "give a shorter -o OUTPUT")


@pytest.mark.parametrize("rate", [1000, 384000])
def test_mp3_at_a_rate_it_cannot_hold_names_the_rates(tmp_path: Path, rate: int, capsys: pytest.CaptureFixture) -> None:
    source = _wav(tmp_path / "in.wav", rate, seconds=0.1)  # D2
    assert main(["denoise", str(source), "-o", str(tmp_path / "x.mp3")]) == 1
    _one_error(capsys, "MP3 takes 1 or 2 channels at 8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48 kHz", f"{rate} Hz", ".wav or .flac")
    assert not (tmp_path / "x.mp3").exists()


def test_a_full_disk_is_named_not_system_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from vqdsp.audio import files
    from vqdsp.mastering import records

    source = _wav(tmp_path / "in.wav")

    def disk_fills(*args, **kwargs):  # D3: libsndfile's words for ENOSPC
        raise RuntimeError("System error.")

    monkeypatch.setattr(files, "process_file", disk_fills)
    monkeypatch.setattr(records, "_probe", lambda folder: errno.ENOSPC)
    assert main(["denoise", str(source), "-o", str(tmp_path / "out.wav")]) == 1
    _one_error(capsys, f"no space left on {tmp_path}")


def test_an_unreadable_file_and_a_fifo_are_called_what_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    source = _wav(tmp_path / "in.wav")  # D4 (simulated: the tests run as root, who may read any file)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == source else real_access(path, mode))
    assert main(["denoise", str(source)]) == 1
    _one_error(capsys, f"cannot read {source}: permission denied")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    assert main(["denoise", str(fifo)]) == 1
    _one_error(capsys, f"{fifo} is not a regular file (a FIFO")


def _start(source: Path, out: Path) -> subprocess.Popen:
    """The command in a child process, SIGINT at its default: a shell's background job (a CI runner's
    ``cmd &``) ignores it and passes that on, and Python then never turns Ctrl-C into KeyboardInterrupt."""
    return subprocess.Popen([sys.executable, "-m", "vqdsp", "denoise", str(source), "-o", str(out), "-m", "v1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if TMP_TAG in p.name]


def _wait_for_a_temporary(folder: Path, proc: subprocess.Popen) -> None:
    """Until the run has its temporary (it is writing); fails if the run ends first."""
    deadline = time.monotonic() + 300
    while not _temporaries(folder):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary appeared"
        time.sleep(0.05)


@pytest.mark.parametrize(("sig", "status", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_remove_the_temporary(tmp_path: Path, sig: int, status: int, word: str) -> None:
    """D5: one line, the conventional exit status, no temporary left (v1, the slowest model, so the run is still writing)."""
    source = _wav(tmp_path / "in.wav", 8000, seconds=240.0)
    out = tmp_path / "out" / "o.wav"
    out.parent.mkdir()
    proc = _start(source, out)
    _wait_for_a_temporary(out.parent, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == status, err
    assert err == f"vqdsp: {word}; {out} was not written\n"
    assert not _temporaries(out.parent)
    assert not out.exists()


def test_a_later_run_removes_what_a_killed_one_left(tmp_path: Path) -> None:
    """D5: SIGKILL cannot be caught; the next run removes the dead process's temporary (and leaves a live one's)."""
    source = _wav(tmp_path / "in.wav", 8000, seconds=240.0)
    out = tmp_path / "o.wav"
    proc = _start(source, out)
    _wait_for_a_temporary(tmp_path, proc)
    proc.kill()
    proc.communicate()
    left = _temporaries(tmp_path)
    assert left
    live = tmp_path / f".other.wav{TMP_TAG}x-{os.getpid()}.tmp"
    live.write_bytes(b"")
    short = _wav(tmp_path / "short.wav", 8000)
    assert main(["denoise", str(short), "-o", str(tmp_path / "o2.wav")]) == 0
    assert not any(p.exists() for p in left)
    assert live.exists()
    np.testing.assert_equal(sf.info(tmp_path / "o2.wav").frames, 4000)
