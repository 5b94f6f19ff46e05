from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from utils import speech_like

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "denoise_chain.py"


@pytest.fixture(scope="module")
def example():  # the example's module
    spec = importlib.util.spec_from_file_location("denoise_chain", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_denoise_chain_without_arguments_prints_its_usage(example, capsys: pytest.CaptureFixture) -> None:
    assert example.main([]) == 2
    assert "usage: python examples/denoise_chain.py INPUT OUTPUT" in capsys.readouterr().err


def test_denoise_chain_streams_a_stereo_file(example, tmp_path: Path) -> None:
    audio = np.stack([speech_like(2.0, 16000), speech_like(2.0, 16000, seed=1)], 1)
    sf.write(tmp_path / "in.wav", audio, 16000)
    assert example.main([str(tmp_path / "in.wav"), str(tmp_path / "out.wav")]) == 0
    out, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 16000
    assert out.shape == audio.shape
    assert np.all(np.isfinite(out))
