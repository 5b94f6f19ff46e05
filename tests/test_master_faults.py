"""`vqdsp master` under faults the second sweep found: copied and moved output folders, read-only sub-folders,
full disks, formats that refuse a subtype, names too long (M1-M6)."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from vqdsp.cli import main
from vqdsp.mastering import records
from vqdsp.model.checkpoint import save_model

from utils import identity_model, speech_like


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    save_model(identity_model(), tmp_path / "id.safetensors")
    path = tmp_path / "test.toml"
    path.write_text('[loudness]\ntarget_lufs = -23.0\n\n[[effects]]\nname = "VQDenoise"\nmodel = "id.safetensors"\n')
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "sub" / "deeper").mkdir(parents=True)
    for i, name in enumerate(["a.wav", "b.wav", "sub/c.wav", "sub/deeper/d.wav"]):
        sf.write(root / name, speech_like(0.5, 8000, seed=i), 8000, subtype="PCM_16")
    return root


def _master(inputs: Path, out: Path, preset: Path, *extra: str) -> int:
    return main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress", *extra])


def _files(out: Path) -> dict[str, dict]:
    doc = json.loads((out / "master-report.json").read_text())
    return {str(Path(f["output"]).relative_to(out.resolve())): f for f in doc["files"]}


@pytest.mark.parametrize("how", ["copy", "move"])
def test_a_copied_or_moved_output_folder_keeps_its_measurements(tmp_path: Path, inputs: Path, preset: Path, how: str,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """M2, M3: the records are keyed under the output folder, so they hold wherever the folder is now."""
    first, second = tmp_path / "A", tmp_path / "B"
    assert _master(inputs, first, preset) == 0
    (shutil.copytree if how == "copy" else shutil.move)(first, second)
    capsys.readouterr()
    assert _master(inputs, second, preset) == 0
    assert "0 mastered, 4 skipped (output exists), 0 failed" in capsys.readouterr().out
    files = _files(second)
    assert sorted(files) == ["a.wav", "b.wav", "sub/c.wav", "sub/deeper/d.wav"]  # no rows pointing into A
    assert all(f["status"] == "skipped" and f["output_lufs"] is not None for f in files.values())


def test_a_read_only_sub_folder_fails_its_files_and_the_batch_goes_on(tmp_path: Path, inputs: Path, preset: Path,
                                                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """M1 (simulated: the tests run as root, where chmod 555 does not stop a write)."""
    out = tmp_path / "out"
    blocked = (out / "sub" / "deeper").resolve()
    mkdir = Path.mkdir

    def refuse(self: Path, *args, **kwargs) -> None:
        if self.resolve() == blocked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert _master(inputs, out, preset) == 1
    err = capsys.readouterr().err
    assert f"failed: {inputs / 'sub' / 'deeper' / 'd.wav'}: cannot write to {blocked}" in err
    files = _files(out)
    assert sorted(files) == ["a.wav", "b.wav", "sub/c.wav", "sub/deeper/d.wav"]  # every file in the report
    assert [f["status"] for f in files.values()].count("done") == 3


def test_system_error_on_a_nearly_full_disk_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """M4: libsndfile's "System error." is explained by the free space left, even where a small probe still fits."""
    monkeypatch.setattr(records, "_probe", lambda folder: None)
    monkeypatch.setattr(records, "_free_bytes", lambda folder: 1 << 20)
    assert records.folder_problem(tmp_path, RuntimeError("System error.")) == f"no space left on {tmp_path} (1.0 MiB free)"
    assert records.folder_problem(tmp_path, RuntimeError("something else")) is None
    monkeypatch.setattr(records, "_free_bytes", lambda folder: 1 << 40)
    assert records.folder_problem(tmp_path, RuntimeError("System error.")) is None  # room enough: the folder is not blamed


def test_a_subtype_the_format_cannot_hold_lists_what_it_takes(tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture) -> None:
    """M5: an .ogg in the batch with --subtype PCM_16 is told OGG's subtypes, not PCM_16 again."""
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "a.ogg", speech_like(0.5, 16000), 16000)
    assert _master(src, tmp_path / "out", preset, "--subtype", "PCM_16") == 1
    err = capsys.readouterr().err
    assert "--subtype PCM_16 cannot be written as OGG" in err
    assert "OGG takes VORBIS, OPUS" in err
    assert "try PCM_16" not in err


def test_an_input_name_too_long_is_one_error_line(tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture) -> None:
    """M6: a name over 255 bytes is an error line, not an OSError traceback."""
    assert main(["master", str(tmp_path / ("x" * 300 + ".wav")), "-o", str(tmp_path / "out"), "--preset", str(preset)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vqdsp: error:")
    assert err.count("\n") == 1


def test_a_long_output_name_still_gets_temporaries(tmp_path: Path, preset: Path) -> None:
    """The temporaries beside a 250-byte output name are shortened to fit a file name."""
    src = tmp_path / "src"
    src.mkdir()
    name = "y" * 246 + ".wav"
    sf.write(src / name, speech_like(0.5, 8000), 8000)
    assert _master(src, tmp_path / "out", preset) == 0
    assert sf.info(tmp_path / "out" / name).frames == 4000
    assert len(records.temporary(tmp_path / name, "processing.w64").name.encode()) <= 255


def test_sigterm_stops_the_batch_like_ctrl_c(tmp_path: Path) -> None:
    """SIGTERM (kill, timeout) stops a serial batch as Ctrl-C does: one line, exit 143, no temporary, the report written."""
    import subprocess
    import sys
    import time

    (tmp_path / "slow.toml").write_text('[[effects]]\nname = "VQDenoise"\nmodel = "v1"\n')  # the slowest shipped model
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for i in range(3):
        sf.write(src / f"take{i}.wav", speech_like(60.0, 8000, seed=i), 8000)
    proc = subprocess.Popen([sys.executable, "-m", "vqdsp", "master", str(src), "-o", str(out), "--preset", str(tmp_path / "slow.toml"),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out.is_dir() and [p for p in out.iterdir() if records.TMP_TAG in p.name]):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary appeared"
        time.sleep(0.05)
    proc.terminate()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    assert err == "vqdsp: terminated; finished files are in place, run the same command again to do the rest\n"
    assert not [p for p in out.iterdir() if records.TMP_TAG in p.name]
    assert (out / "master-report.json").is_file()
