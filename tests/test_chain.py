from __future__ import annotations

from pathlib import Path

import numpy as np
import pedalboard
import pytest
from pedalboard import Compressor, Gain, HighpassFilter, Reverb
from pedalboard.io import AudioFile

from vqdsp import Pedalboard, VQDenoise
from vqdsp.audio.framing import flush_padding
from vqdsp.model.checkpoint import save_model

from utils import identity_model, speech_like


@pytest.fixture(scope="module")
def identity_effect(tmp_path_factory: pytest.TempPathFactory) -> VQDenoise:
    path = save_model(identity_model(), tmp_path_factory.mktemp("m") / "identity.safetensors")
    return VQDenoise(model=path, high_band=None)  # the learned high band is no identity


def natives() -> list:
    return [Gain(3), HighpassFilter(100), Compressor(threshold_db=-20, ratio=4), Reverb(room_size=0.3)]


@pytest.mark.parametrize("sample_rate", [8000, 44100])
@pytest.mark.parametrize("shape", [(2, 20000), (20000, 2), (20000,)])
def test_native_only_chain_is_exactly_pedalboard(sample_rate: int, shape: tuple) -> None:
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, shape).astype(np.float32)
    ours = Pedalboard(natives())(audio, sample_rate)
    theirs = pedalboard.Pedalboard(natives())(audio, sample_rate)
    assert np.array_equal(ours, theirs)


def test_native_runs_become_one_native_chain(identity_effect: VQDenoise) -> None:
    board = Pedalboard([Gain(1), Compressor(), identity_effect, Gain(2), pedalboard.Pedalboard([Gain(1)])])
    kinds = [type(s) for s in board.stages]
    assert kinds == [pedalboard.Pedalboard, VQDenoise, pedalboard.Pedalboard]
    assert len(board.stages[0]) == 2
    assert len(board.stages[2]) == 2


def test_python_effect_between_native_plugins(identity_effect: VQDenoise) -> None:
    audio = np.stack([speech_like(1.5), speech_like(1.5, seed=1)])
    mixed = Pedalboard([Gain(6), identity_effect, Gain(-6)])(audio, 8000)
    assert np.allclose(mixed, audio, atol=1e-4)


def test_list_like_api(identity_effect: VQDenoise) -> None:
    board = Pedalboard([Gain(1)])
    board.append(identity_effect)
    board.insert(0, Compressor())
    assert len(board) == 3
    assert board[1].gain_db == 1
    assert board[-1] is identity_effect
    del board[0]
    board[0] = Gain(2)
    assert [type(p) for p in board] == [Gain, VQDenoise]
    assert board.stages[0][0].gain_db == 2  # stages follow the list
    board.remove(identity_effect)
    assert len(board) == 1
    with pytest.raises(TypeError, match="plugins or effects"):
        board.append("reverb")
    with pytest.raises(TypeError, match="plugins or effects"):
        Pedalboard([np.zeros(3)])


def test_streaming_through_the_chain(identity_effect: VQDenoise) -> None:
    audio = speech_like(3.0)[None]
    board = Pedalboard([Gain(-3), identity_effect, Gain(3)])
    whole = board(audio, 8000)
    board.reset()
    padded = np.concatenate([audio, flush_padding(audio, board.latency_samples)], axis=1)
    parts = [board(padded[:, i : i + 3000], 8000, reset=False) for i in range(0, padded.shape[1], 3000)]
    streamed = np.concatenate(parts, axis=1)[:, board.latency_samples :]
    assert np.allclose(streamed, whole, atol=1e-4)


def test_streams_a_file_with_pedalboard_io(tmp_path: Path, identity_effect: VQDenoise) -> None:
    audio = np.stack([speech_like(4.0, 16000), speech_like(4.0, 16000, seed=2)])
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    with AudioFile(str(src), "w", 16000, 2) as f:
        f.write(audio)
    board = Pedalboard([identity_effect, Gain(0)])
    board.reset()
    latency = identity_effect.latency_at(16000)
    skip = latency  # the first `latency` output samples are the stream's pre-roll
    with AudioFile(str(src)) as f, AudioFile(str(dst), "w", f.samplerate, f.num_channels) as o:
        def write(out: np.ndarray) -> None:
            nonlocal skip
            o.write(out[:, skip:])
            skip = max(0, skip - out.shape[1])

        while f.tell() < f.frames:
            write(board(f.read(5000), f.samplerate, reset=False))
        write(board(np.zeros((2, latency), np.float32), f.samplerate, reset=False))  # flush
    with AudioFile(str(dst)) as f:
        back = f.read(f.frames)
    assert back.shape == audio.shape
    assert np.allclose(back, audio, atol=1e-3)


def test_empty_chain_passes_audio_through() -> None:
    audio = speech_like(0.5)
    assert np.array_equal(Pedalboard()(audio, 8000), audio)
