from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from utils import speech_like
from vqdsp.cli import main


@pytest.fixture
def noisy_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    audio = speech_like(1.5, 16000)[:, None] + 0.05 * rng.standard_normal((24000, 2)).astype(np.float32)
    path = tmp_path / "in.wav"
    sf.write(path, audio, 16000, subtype="PCM_24")
    return path


def test_denoise_keeps_rate_channels_and_format(noisy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    assert main(["denoise", str(noisy_file), "-o", str(out)]) == 0
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 2, 24000, "PCM_24")


def test_default_output_is_beside_the_input(noisy_file: Path) -> None:
    assert main(["denoise", str(noisy_file)]) == 0
    assert (noisy_file.parent / "in.denoised.wav").is_file()


def test_never_overwrites_without_force(noisy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.wav"
    out.write_bytes(b"precious")
    assert main(["denoise", str(noisy_file), "-o", str(out)]) == 1
    assert out.read_bytes() == b"precious"
    assert "exists" in capsys.readouterr().err
    assert main(["denoise", str(noisy_file), "-o", str(out), "--force"]) == 0
    assert sf.info(out).frames == 24000


def test_never_writes_over_the_input(noisy_file: Path) -> None:
    before = noisy_file.read_bytes()
    assert main(["denoise", str(noisy_file), "-o", str(noisy_file), "--force"]) == 1
    assert noisy_file.read_bytes() == before


def test_unreadable_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    assert main(["denoise", str(bad), "-o", str(tmp_path / "o.wav")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_bundled_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["denoise"]) == 0
    assert (tmp_path / "noisy_speech.denoised.wav").is_file()
