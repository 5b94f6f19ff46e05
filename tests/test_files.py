from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pedalboard import Gain

from vqdsp import Pedalboard, VQDenoise
from vqdsp.audio.files import process_file

from reference_model import GatingModel
from utils import speech_like


def test_a_chain_without_latency_streams_a_file(tmp_path: Path) -> None:
    audio = np.stack([speech_like(2.5, 16000), speech_like(2.5, 16000, seed=1)], 1)
    sf.write(tmp_path / "in.wav", audio, 16000, subtype="FLOAT")
    board = Pedalboard([Gain(-6)])
    process_file(board, tmp_path / "in.wav", tmp_path / "out.wav", chunk_seconds=0.3)
    out, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert np.allclose(out, audio * 10 ** (-6 / 20), atol=1e-6)


def test_a_file_too_short_to_judge_warns(tmp_path: Path) -> None:
    sf.write(tmp_path / "click.wav", speech_like(0.01), 8000)
    with pytest.warns(UserWarning, match=r"click\.wav: 10 ms of audio is shorter than the denoiser's analysis window"):
        process_file(Pedalboard([VQDenoise(model=GatingModel()), Gain(0)]), tmp_path / "click.wav", tmp_path / "out.wav")
    assert sf.info(tmp_path / "out.wav").frames == 80


def test_nan_in_a_file_is_named(tmp_path: Path) -> None:
    audio = speech_like(1.0)
    audio[100] = np.nan
    sf.write(tmp_path / "bad.wav", audio, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"bad\.wav contains 1 NaN or Inf"):
        process_file(VQDenoise(model=GatingModel()), tmp_path / "bad.wav", tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()
