from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vqdsp.cli import main
from vqdsp.mastering.loudness import measure_file
from vqdsp.mastering.master import plan_jobs
from vqdsp.mastering.records import RECORDS_DIR, TMP_TAG
from vqdsp.model.checkpoint import save_model

from utils import identity_model, speech_like

TARGET = -23.0
CEILING = -1.0


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    save_model(identity_model(), tmp_path / "id.safetensors")
    path = tmp_path / "test.toml"
    path.write_text(
        f"[loudness]\ntarget_lufs = {TARGET}\ntrue_peak_dbtp = {CEILING}\n\n"
        '[[effects]]\nname = "VQDenoise"\nmodel = "id.safetensors"\n\n'
        '[[effects]]\nname = "HighpassFilter"\ncutoff_frequency_hz = 60\n'
    )
    return path


def _write_inputs(root: Path) -> dict[str, tuple[int, int, str]]:
    """Mixed formats, rates and channel counts, one corrupt file; returns name -> (rate, channels, subtype)."""
    (root / "sub" / "deeper").mkdir(parents=True)
    x16 = speech_like(1.5, 16000, seed=1)
    sf.write(root / "a.wav", 0.2 * x16, 16000, subtype="PCM_16")
    sf.write(root / "sub" / "b.flac", np.stack([x16, 0.5 * x16], 1), 16000, subtype="PCM_24")
    sf.write(root / "sub" / "deeper" / "c.ogg", speech_like(1.2, 44100, seed=2), 44100)
    sf.write(root / "d.wav", np.stack([speech_like(1.0, 8000, seed=3)] * 2, 1) * 0.05, 8000, subtype="FLOAT")
    (root / "sub" / "bad.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot really audio")
    (root / "notes.txt").write_text("not audio")
    return {
        "a.wav": (16000, 1, "PCM_16"),
        "sub/b.flac": (16000, 2, "PCM_24"),
        "sub/deeper/c.ogg": (44100, 1, "VORBIS"),
        "d.wav": (8000, 2, "FLOAT"),
    }


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def _report(out: Path) -> dict[str, dict]:
    doc = json.loads((out / "master-report.json").read_text())
    return {Path(f["input"]).name: f for f in doc["files"]}


def test_batch_of_mixed_files(tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    expected = _write_inputs(inputs)
    out.mkdir()
    (out / "d.wav").write_bytes(b"already mastered")  # done in an earlier run
    before = _digests(inputs)

    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 1

    assert _digests(inputs) == before  # inputs never modified
    assert (out / "d.wav").read_bytes() == b"already mastered"  # nothing overwritten
    assert "bad.wav" in capsys.readouterr().err
    for name, (rate, channels, subtype) in expected.items():
        if name == "d.wav":
            continue
        info = sf.info(out / name)  # layout mirrored, rate, channels, length and subtype kept
        assert (info.samplerate, info.channels, info.subtype) == (rate, channels, subtype), name
        assert info.frames == sf.info(inputs / name).frames
        level = measure_file(out / name)
        assert level.integrated_lufs == pytest.approx(TARGET, abs=0.5), name
        assert level.true_peak_dbtp <= CEILING + (0.5 if subtype == "VORBIS" else 0.05), name
    assert not (out / "sub" / "bad.wav").exists()
    assert not [p for p in out.rglob(".*") if p.name != RECORDS_DIR]  # no temporary files left
    report = _report(out)
    assert report["bad.wav"]["status"] == "failed"
    assert "cannot read" in report["bad.wav"]["error"]
    assert report["d.wav"]["status"] == "skipped"
    assert {report[n]["status"] for n in ("a.wav", "b.flac", "c.ogg")} == {"done"}
    assert report["a.wav"]["gain_db"] == pytest.approx(TARGET - report["a.wav"]["input_lufs"], abs=0.2)
    assert report["a.wav"]["duration_s"] == pytest.approx(1.5)
    rows = (out / "master-report.csv").read_text().splitlines()
    assert len(rows) == 1 + 5
    assert rows[0].startswith("input,output,status")


def test_interrupted_batch_resumes_with_what_is_missing(tmp_path: Path, preset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    for i in range(3):
        sf.write(inputs / f"take{i}.wav", speech_like(1.0, 16000, seed=i), 16000, subtype="PCM_16")
    import vqdsp.mastering.loudness  # the output's atomic write, patched to be interrupted half-way through file 2

    original = vqdsp.mastering.loudness.atomic_write
    calls = []

    def interrupted_write(path, write):
        calls.append(path)
        if len(calls) < 2:
            return original(path, write)

        def half_then_interrupt(tmp):
            write(tmp)
            raise KeyboardInterrupt  # Ctrl-C while the second output is being written

        return original(path, half_then_interrupt)

    monkeypatch.setattr(vqdsp.mastering.loudness, "atomic_write", interrupted_write)
    args = ["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]
    assert main(args) == 130
    assert [p.name for p in out.glob("*.wav")] == ["take0.wav"]  # the interrupted file is not there, not half there
    assert not [p for p in out.rglob(".*") if p.name != RECORDS_DIR]
    first = (out / "take0.wav").stat().st_mtime_ns

    monkeypatch.setattr(vqdsp.mastering.loudness, "atomic_write", original)
    assert main(args) == 0
    assert sorted(p.name for p in out.glob("*.wav")) == ["take0.wav", "take1.wav", "take2.wav"]
    assert (out / "take0.wav").stat().st_mtime_ns == first
    report = _report(out)
    assert [report[f"take{i}.wav"]["status"] for i in range(3)] == ["skipped", "done", "done"]
    for field in ("input_lufs", "output_lufs", "gain_db", "duration_s"):  # the first run's measurements are kept
        assert all(report[f"take{i}.wav"][field] is not None for i in range(3)), field


def test_overwrite_replaces_outputs_only_when_asked(tmp_path: Path, preset: Path) -> None:
    source, out = tmp_path / "in.wav", tmp_path / "out"
    sf.write(source, speech_like(1.0, 8000), 8000)
    (out).mkdir()
    (out / "in.wav").write_bytes(b"old")
    args = ["master", str(source), "-o", str(out), "--preset", str(preset), "--no-progress"]
    assert main(args) == 0
    assert (out / "in.wav").read_bytes() == b"old"
    assert main([*args, "--overwrite"]) == 0
    assert sf.info(out / "in.wav").frames == 8000


def test_bad_preset_fails_before_any_file_is_touched(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source, out, bad = tmp_path / "in.wav", tmp_path / "out", tmp_path / "bad.toml"
    sf.write(source, speech_like(1.0, 8000), 8000)
    bad.write_text('[[effects]]\nname = "HighPassFilter"\n')
    assert main(["master", str(source), "-o", str(out), "--preset", str(bad)]) == 1
    assert "did you mean 'HighpassFilter'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["master", str(source), "-o", str(out), "--preset", "loudest"]) == 1
    assert not out.exists()


def test_plan_mirrors_folders_and_leaves_out_the_output_folder(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    _write_inputs(root)
    (root / "mastered").mkdir()
    sf.write(root / "mastered" / "a.wav", np.zeros(100), 8000)  # an earlier run's output inside the input folder
    jobs = plan_jobs([str(root)], root / "mastered")
    assert sorted(Path(j.target).relative_to(root / "mastered").as_posix() for j in jobs) == [
        "a.wav", "d.wav", "sub/b.flac", "sub/bad.wav", "sub/deeper/c.ogg"
    ]
    globbed = plan_jobs([str(root / "**" / "*.flac"), str(root / "a.wav")], tmp_path / "o")
    assert sorted(Path(j.target).relative_to(tmp_path / "o").as_posix() for j in globbed) == ["a.wav", "sub/b.flac"]


def test_globs_mirror_the_folders_under_their_fixed_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "rec"
    for name in ("a.wav", "sub/a.wav", "sub/deeper/a.wav", "other/a.wav"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, np.zeros(100), 8000)
    monkeypatch.chdir(tmp_path)  # a relative pattern, as typed
    jobs = plan_jobs(["rec/**/a.wav"], "o")
    targets = sorted(Path(j.target).relative_to((tmp_path / "o").resolve()).as_posix() for j in jobs)
    assert targets == ["a.wav", "other/a.wav", "sub/a.wav", "sub/deeper/a.wav"]  # same names, no clash
    folders = plan_jobs(["rec/s*"], "o2")  # a glob that matches a folder mirrors it from the same prefix
    assert sorted(Path(j.target).relative_to((tmp_path / "o2").resolve()).as_posix() for j in folders) == ["sub/a.wav", "sub/deeper/a.wav"]
    assert plan_jobs(["*/a.wav"], "o3")[0].target == str((tmp_path / "o3" / "rec" / "a.wav").resolve())


def test_plan_refuses_what_would_lose_data(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    _write_inputs(root)
    with pytest.raises(ValueError, match="over itself"):
        plan_jobs([str(root)], root)
    (tmp_path / "other").mkdir()
    sf.write(tmp_path / "other" / "a.wav", np.zeros(100), 8000)
    with pytest.raises(ValueError, match="both be written"):
        plan_jobs([str(root), str(tmp_path / "other")], tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="no such"):
        plan_jobs([str(tmp_path / "missing*.wav")], tmp_path / "o")
    with pytest.raises(ValueError, match="not a file vqdsp master reads"):
        plan_jobs([str(root / "notes.txt")], tmp_path / "o")


def test_mp3_input_is_written_losslessly(tmp_path: Path, preset: Path) -> None:
    from pedalboard.io import AudioFile

    source, out = tmp_path / "call.mp3", tmp_path / "out"
    with AudioFile(str(source), "w", 44100, 1) as f:
        f.write(speech_like(1.0, 44100)[None])
    assert main(["master", str(source), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 0
    info = sf.info(out / "call.flac")
    assert (info.samplerate, info.channels, info.subtype) == (44100, 1, "PCM_24")
    assert measure_file(out / "call.flac").integrated_lufs == pytest.approx(TARGET, abs=0.5)


def test_process_pool(tmp_path: Path, preset: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    for i in range(3):
        sf.write(inputs / f"t{i}.flac", speech_like(1.0, 16000, seed=i), 16000, subtype="PCM_16")
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--jobs", "2", "--no-progress"]) == 0
    report = _report(out)
    assert [report[f"t{i}.flac"]["status"] for i in range(3)] == ["done"] * 3
    for i in range(3):
        assert measure_file(out / f"t{i}.flac").integrated_lufs == pytest.approx(TARGET, abs=0.5)


def test_builtin_speech_preset_with_the_shipped_model(tmp_path: Path) -> None:
    source, out = tmp_path / "talk.wav", tmp_path / "out"
    noisy = speech_like(2.0, 16000) + 0.01 * np.random.default_rng(0).standard_normal(32000).astype(np.float32)
    sf.write(source, noisy, 16000, subtype="PCM_16")
    assert main(["master", str(source), "-o", str(out), "--no-progress"]) == 0
    level = measure_file(out / "talk.wav")
    file = _report(out)["talk.wav"]
    assert level.true_peak_dbtp <= -1.0
    # The limiter takes the peaks the gain lifts over the ceiling: the target is met too.
    assert level.integrated_lufs == pytest.approx(-16.0, abs=0.5)
    assert file["peak_limited"] is False
    assert file["limiter_max_reduction_db"] >= 0.0


def test_show_preset(capsys: pytest.CaptureFixture) -> None:
    assert main(["master", "--show-preset", "speech"]) == 0
    assert 'name = "VQDenoise"' in capsys.readouterr().out


@pytest.mark.slow
def test_ray_backend(tmp_path: Path, preset: Path) -> None:
    ray = pytest.importorskip("ray")
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    for i in range(2):
        sf.write(inputs / f"r{i}.wav", speech_like(1.0, 8000, seed=i), 8000, subtype="PCM_16")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rc = main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--backend", "ray", "--no-progress"])
    finally:
        ray.shutdown()
    assert rc == 0
    report = _report(out)
    assert [report[f"r{i}.wav"]["status"] for i in range(2)] == ["done", "done"]
    assert measure_file(out / "r0.wav").integrated_lufs == pytest.approx(TARGET, abs=0.5)


# -- faults: kills, concurrent runs, symlink loops, unwritable folders, gain ceiling -------------------
def _temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if TMP_TAG in p.name]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie has ended; only its parent's wait is missing


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _start_batch(inputs: Path, out: Path, preset: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "vqdsp", "master", str(inputs), "-o", str(out), "--preset", str(preset), "--jobs", "2", "--no-progress"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_a_temporary(out: Path, proc: subprocess.Popen, after_outputs: int = 0, timeout_s: float = 180.0) -> Path:
    """A file being processed once ``after_outputs`` outputs are done (the batch is mid-way)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        found = [p for p in _temporaries(out) if p.name.endswith(".processing.w64")]
        if found and len(list(out.glob("*.wav"))) >= after_outputs:
            return found[0]
        time.sleep(0.005)
    proc.kill()
    pytest.fail(f"no file was being processed (exit {proc.wait()}); run the command by hand to see why")


def _long_inputs(root: Path, count: int, seconds: float = 4.0) -> None:
    root.mkdir()
    for i in range(count):
        sf.write(root / f"take{i}.wav", speech_like(seconds, 16000, seed=i), 16000, subtype="PCM_16")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_killed_mid_batch_then_a_rerun(tmp_path: Path, preset: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    _long_inputs(inputs, 8)
    proc = _start_batch(inputs, out, preset)
    temporary = _wait_for_a_temporary(out, proc, after_outputs=2)
    worker = int(temporary.name.split(TMP_TAG)[1].split(".")[0].rsplit("-", 1)[1])
    os.kill(worker, signal.SIGKILL)
    proc.wait(timeout=120)
    assert proc.returncode == 1  # the files the dead pool did not finish are reported as failed

    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 0
    assert not [p for p in out.rglob(".*") if p.name != RECORDS_DIR]  # the killed workers' temporaries are cleaned
    report = _report(out)
    assert sorted(report) == [f"take{i}.wav" for i in range(8)]
    for i in range(8):
        name = f"take{i}.wav"
        assert sf.info(out / name).frames == sf.info(inputs / name).frames  # complete outputs
        assert measure_file(out / name).integrated_lufs == pytest.approx(TARGET, abs=0.5)
        for field in ("input_lufs", "output_lufs", "gain_db", "duration_s", "output_true_peak_dbtp"):
            assert report[name][field] is not None, (name, field)  # every file's measurements, skipped ones too


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_their_parent(tmp_path: Path, preset: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    _long_inputs(inputs, 8)
    proc = _start_batch(inputs, out, preset)
    _wait_for_a_temporary(out, proc)
    children = _children(proc.pid)
    assert children
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(_gone(pid) for pid in children):
        time.sleep(0.05)
    assert all(_gone(pid) for pid in children)


def test_reports_of_runs_into_one_folder_keep_each_others_files(tmp_path: Path, preset: Path) -> None:
    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "out"
    for folder, seed in ((first, 0), (second, 1)):
        folder.mkdir()
        sf.write(folder / f"from_{folder.name}.wav", speech_like(1.0, 16000, seed=seed), 16000, subtype="PCM_16")
    assert main(["master", str(first), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 0
    assert main(["master", str(second), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 0
    report = _report(out)
    assert sorted(report) == ["from_first.wav", "from_second.wav"]
    assert all(report[name]["status"] == "done" and report[name]["output_lufs"] is not None for name in report)


def test_stale_temporaries_are_cleaned_and_live_ones_kept(tmp_path: Path, preset: Path) -> None:
    from vqdsp.mastering import records

    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    sf.write(inputs / "a.wav", speech_like(1.0, 16000), 16000, subtype="PCM_16")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host = records.temporary(out / "x", "t").name.split(TMP_TAG)[1].rsplit("-", 1)[0]
    stale = out / f".a.wav{TMP_TAG}{host}-{int(dead.stdout)}.processing.w64"
    stale_atomic = out / f"..a.wav{TMP_TAG}{host}-{int(dead.stdout)}.outwav.k2j3.tmp"
    live = out / f".b.wav{TMP_TAG}{host}-{os.getpid()}.processing.w64"
    elsewhere = out / f".c.wav{TMP_TAG}otherhost-{int(dead.stdout)}.processing.w64"
    (out / records.RECORDS_DIR).mkdir()
    stale_record = out / records.RECORDS_DIR / f".0123abcd.json{TMP_TAG}{host}-{int(dead.stdout)}.tmp"  # killed writing its record
    for path in (stale, stale_atomic, live, elsewhere, stale_record):
        path.write_bytes(b"partial")
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 0
    assert not stale.exists()
    assert not stale_atomic.exists()
    assert not stale_record.exists()
    assert live.exists()
    assert elsewhere.exists()  # a running batch's, and another machine's (shared storage)


def test_glob_follows_no_symlink_loop(tmp_path: Path) -> None:
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    for path in (root / "a.wav", root / "sub" / "b.wav"):
        sf.write(path, np.zeros(800, np.float32), 8000)
    (root / "self").symlink_to(".")
    (root / "sub" / "up").symlink_to("..")
    jobs = plan_jobs([f"{root}/**/*.wav"], tmp_path / "out")
    assert sorted(Path(j.source).relative_to(root).as_posix() for j in jobs) == ["a.wav", "sub/b.wav"]
    assert sorted(Path(j.source).name for j in plan_jobs([str(root)], tmp_path / "out2")) == ["a.wav", "b.wav"]


def test_an_unwritable_output_folder_fails_before_the_batch(tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture) -> None:
    inputs = tmp_path / "in"
    _long_inputs(inputs, 1, seconds=0.5)
    (tmp_path / "file").write_text("")
    assert main(["master", str(inputs), "-o", str(tmp_path / "file" / "out"), "--preset", str(preset), "--no-progress"]) == 1
    assert "cannot create the output folder" in capsys.readouterr().err


def test_a_full_disk_is_named(tmp_path: Path, preset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import errno

    import vqdsp.mastering.loudness
    from vqdsp.mastering import records

    inputs, out = tmp_path / "in", tmp_path / "out"
    _long_inputs(inputs, 1, seconds=0.5)
    monkeypatch.setattr(records, "_probe", lambda folder: errno.ENOSPC)
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 1
    assert f"no space left on {out}" in capsys.readouterr().err  # checked before the batch

    monkeypatch.setattr(records, "_probe", lambda folder: None)
    records.check_output_dir(out)

    def disk_fills(*args, **kwargs):  # libsndfile's own words for ENOSPC
        monkeypatch.setattr(records, "_probe", lambda folder: errno.ENOSPC)
        raise RuntimeError("System error.")

    monkeypatch.setattr(vqdsp.mastering.loudness, "apply_gain_file", disk_fills)
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 1
    assert f"failed: {inputs / 'take0.wav'}: no space left on {out}" in capsys.readouterr().err  # not "System error."
    assert not _temporaries(out)

    def report_fails(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(records, "_probe", lambda folder: None)
    monkeypatch.setattr("vqdsp.mastering.master.write_report", report_fails)
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 1  # an error line, no traceback
    assert f"no space left on {out}; the outputs and per-file records are in place" in capsys.readouterr().err


def test_the_gain_ceiling_binds_and_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_model(identity_model(), tmp_path / "id.safetensors")
    preset = tmp_path / "quiet.toml"
    preset.write_text('[loudness]\ntarget_lufs = -16\nmax_gain_db = 6\n\n[[effects]]\nname = "VQDenoise"\nmodel = "id.safetensors"\n')
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    sf.write(inputs / "faint.wav", 0.01 * speech_like(1.0, 16000), 16000, subtype="FLOAT")
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(preset), "--no-progress"]) == 0
    file = _report(out)["faint.wav"]
    assert file["gain_limited"] is True
    assert file["peak_limited"] is False
    assert file["gain_db"] == pytest.approx(6.0)
    assert file["output_lufs"] == pytest.approx(file["input_lufs"] + 6.0, abs=0.2)
    assert json.loads((out / "master-report.json").read_text())["max_gain_db"] == 6.0
    assert file["held_back_lu"] > 10.0  # ... and how far under the target it left the file, on the terminal too
    assert "the gain ceiling (max_gain_db = 6) held it back" in capsys.readouterr().err


def _peaky_speech_preset(tmp_path: Path, limiter: bool) -> Path:
    save_model(identity_model(), tmp_path / "id.safetensors")
    preset = tmp_path / f"peaky-{limiter}.toml"
    preset.write_text(
        f"[loudness]\ntarget_lufs = -16\ntrue_peak_dbtp = -1\nmax_gain_db = 20\nlimiter = {str(limiter).lower()}\n\n"
        '[[effects]]\nname = "VQDenoise"\nmodel = "id.safetensors"\n'
    )
    return preset


def _peaky_speech(path: Path, rate: int = 16000) -> None:
    """Speech at about -30 LUFS with a clap 9 dB over its peaks: gain alone cannot reach -16 LUFS under -1 dBTP."""
    audio = speech_like(2.0, rate)
    audio[rate // 2 : rate // 2 + 40] = 0.9 * np.sign(np.sin(np.arange(40)))
    sf.write(path, audio, rate, subtype="PCM_24")


def test_the_limiter_reaches_the_target_and_the_ceiling_together(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _peaky_speech(inputs / "clap.wav")
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(_peaky_speech_preset(tmp_path, True)), "--no-progress"]) == 0
    level, file = measure_file(out / "clap.wav"), _report(out)["clap.wav"]
    assert level.integrated_lufs == pytest.approx(-16.0, abs=0.5)
    assert level.true_peak_dbtp <= -1.0
    assert file["limiter_max_reduction_db"] > 6.0  # the clap, turned down
    assert file["limited_percent"] > 0.0
    assert file["held_back_lu"] is None
    doc = json.loads((out / "master-report.json").read_text())
    assert doc["limiter"] is True


def test_gain_only_is_held_back_by_the_peak_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _peaky_speech(inputs / "clap.wav")
    assert main(["master", str(inputs), "-o", str(out), "--preset", str(_peaky_speech_preset(tmp_path, False)), "--no-progress"]) == 0
    level, file = measure_file(out / "clap.wav"), _report(out)["clap.wav"]
    assert level.true_peak_dbtp <= -1.0 + 0.05
    assert level.integrated_lufs < -20.0
    assert file["peak_limited"] is True
    assert file["limiter_max_reduction_db"] is None
    assert file["held_back_lu"] == pytest.approx(-16.0 - level.integrated_lufs, abs=0.05)
    err = capsys.readouterr().err
    assert "clap.wav" in err
    assert "LU under the target: the true-peak ceiling held it back" in err


def test_the_report_gives_input_and_output_as_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_model(identity_model(), tmp_path / "id.safetensors")
    (tmp_path / "p.toml").write_text('[[effects]]\nname = "VQDenoise"\nmodel = "id.safetensors"\n')
    (tmp_path / "rec").mkdir()
    sf.write(tmp_path / "rec" / "a.wav", speech_like(0.5, 8000), 8000)
    monkeypatch.chdir(tmp_path / "rec")
    assert main(["master", "a.wav", "-o", "../out", "--preset", "../p.toml", "--no-progress"]) == 0
    rows = (tmp_path / "out" / "master-report.csv").read_text().splitlines()
    row = dict(zip(rows[0].split(","), rows[1].split(","), strict=False))
    assert row["input"] == str(tmp_path / "rec" / "a.wav")
    assert Path(row["output"]) == (tmp_path / "out" / "a.wav").resolve()
