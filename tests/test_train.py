from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from safetensors.torch import load_file

from vqdsp.model.checkpoint import CheckpointError, load_model
from vqdsp.model.config import ModelConfig
from vqdsp.model.unet import SEUNet
from vqdsp.training.data import NoiseMix
from vqdsp.training.train import TrainConfig, train

from utils import speech_like

TINY = ModelConfig(channels=(4, 8), se_reduction=2, codebook_size=16)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for speaker in ("a", "b", "c"):
        (root / speaker).mkdir()
        for i in range(2):
            sf.write(root / speaker / f"{i}.wav", speech_like(2.0, 8000, seed=ord(speaker) + i), 8000)
    return root


def config(corpus_dir: Path, out: Path, **kw) -> TrainConfig:
    base = dict(
        data=[str(corpus_dir)], out=str(out), validation_speakers=["c"], steps=4, batch_size=2,
        eval_every=2, val_segments=4, val_utterances=0, noise=NoiseMix(types=("white", "babble")), threads=1,
    )
    return TrainConfig(**{**base, **kw})


def history(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_writes_its_logs(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    final = train(config(corpus_dir, out, steps=60, eval_every=20, lr=5e-3), TINY)
    losses = [h["val_loss"] for h in history(out)]
    assert losses[-1] < losses[0] * 0.8
    assert load_model(final).config == TINY
    for name in ("history.csv", "loss.png", "train_config.json", "checkpoint/optimizer.safetensors"):
        assert (out / name).is_file()


def test_resume_continues_exactly(corpus_dir: Path, tmp_path: Path) -> None:
    straight = train(config(corpus_dir, tmp_path / "straight"), TINY)
    train(config(corpus_dir, tmp_path / "split", steps=2), TINY)
    resumed = train(config(corpus_dir, tmp_path / "split"), TINY, resume=True)
    a, b = load_file(str(straight)), load_file(str(resumed))
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key].numpy(), b[key].numpy()), key
    assert [h["step"] for h in history(tmp_path / "split")] == [2, 4]


def test_an_existing_run_is_not_overwritten(corpus_dir: Path, tmp_path: Path) -> None:
    train(config(corpus_dir, tmp_path / "run", steps=2), TINY)
    with pytest.raises(FileExistsError, match="resume"):
        train(config(corpus_dir, tmp_path / "run", steps=2), TINY)


def test_a_foreign_checkpoint_is_named(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x00" * 64)
    path.with_suffix(".json").write_text('{"layers": 12}')
    with pytest.raises(CheckpointError, match="not a valid vqdsp model config"):
        load_model(path)


def free_port() -> int:
    """A port nothing listens on now (a fixed one can still be in TIME_WAIT from the last run)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
        "-m", "vqdsp", "train", str(corpus_dir), "-o", str(out), "--validation-speaker", "c",
        "--steps", "4", "--eval-every", "2", "--batch-size", "2", "--val-segments", "4",
        "--val-utterances", "0", "--channels", "4", "8", "--codebook-size", "16", "--threads", "1",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [h["step"] for h in history(out)] == [2, 4]
    assert load_model(out / "model.safetensors").config.channels == (4, 8)


def test_robust_recipe_scores_held_out_conditions_and_keeps_the_best(corpus_dir: Path, tmp_path: Path) -> None:
    from vqdsp.training.data import SpeechAugmentation
    from vqdsp.training.losses import LossWeights

    music = tmp_path / "music"
    music.mkdir()
    for name in ("train_track", "held_out_track"):
        sf.write(music / f"{name}.wav", np.random.default_rng(len(name)).standard_normal(16000).astype(np.float32) * 0.1, 8000)
    out = tmp_path / "run"
    cfg = config(
        corpus_dir, out, steps=4, val_utterances=1, augment=SpeechAugmentation.robust(),
        music_dirs=[str(music)], validation_music=[str(music / "held_out_track.wav")],
        noise=NoiseMix(types=("white", "music", "keyboard"), second_noise=0.5),
        loss=LossWeights(si_sdr=0.02, multi_resolution=0.1, speech_suppression=1.0),
    )
    train(cfg, TINY)
    entries = history(out)
    assert all(0 < h["stoi"] <= 1 and h["score"] == pytest.approx(h["pesq"] + 10 * h["stoi"]) for h in entries)
    best = max(entries, key=lambda h: h["score"])
    assert load_model(out / "best.safetensors").config == TINY
    assert best["step"] in (2, 4)


def test_a_time_budget_stops_at_a_checkpoint_and_resume_finishes(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    final = train(config(corpus_dir, out, steps=6, max_minutes=1e-6), TINY)
    assert not final.exists()
    assert [h["step"] for h in history(out)] == [2]
    train(config(corpus_dir, out, steps=6, max_minutes=1e-6), TINY, resume=True)
    final = train(config(corpus_dir, out, steps=6), TINY, resume=True)
    assert final.is_file()
    assert [h["step"] for h in history(out)] == [2, 4, 6]


def test_out_of_domain_conditions_keep_their_references() -> None:
    from vqdsp.training.train import out_of_domain_conditions

    rng = np.random.default_rng(0)
    clean = speech_like(2.0, 8000, seed=3)
    talkers = [speech_like(2.0, 8000, seed=s) for s in (4, 5)]
    music = [np.random.default_rng(6).standard_normal(20000).astype(np.float32)]
    conditions = out_of_domain_conditions(clean, rng, 8000, talkers, music)
    assert set(conditions) == {"babble 0 dB", "music 5 dB", "reverb 5 dB", "channel 5 dB"}
    for ref, noisy in conditions.values():
        assert ref.shape == noisy.shape == clean.shape
        assert np.all(np.isfinite(noisy))
    assert np.array_equal(conditions["babble 0 dB"][0], clean)
    assert not np.allclose(conditions["reverb 5 dB"][0], clean)


def test_the_command_says_how_to_continue_a_run_stopped_by_its_budget(corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vqdsp.cli import main

    out = tmp_path / "run"
    argv = [
        "train", str(corpus_dir), "-o", str(out), "--validation-speaker", "c", "--steps", "4", "--eval-every", "2",
        "--batch-size", "2", "--val-segments", "2", "--val-utterances", "0", "--channels", "4", "8", "--codebook-size", "8",
        "--noise", "white", "--threads", "1", "--max-minutes", "1e-6",
    ]
    assert main(argv) == 0
    assert "--resume to continue" in capsys.readouterr().out
    assert main([*argv[:-2], "--resume"]) == 0
    assert f"model written to {out / 'model.safetensors'}" in capsys.readouterr().out


def test_the_seeds_spectrogram_noise_reaches_the_model_input() -> None:
    import torch

    from vqdsp.model.unet import SEUNet
    from vqdsp.training.losses import LossWeights
    from vqdsp.training.train import loss_on_waveforms

    model = SEUNet(TINY).eval()
    clean = torch.from_numpy(speech_like(1.0, 8000, seed=1)[None])
    noisy = clean + 0.05 * torch.randn_like(clean)
    with torch.no_grad():
        plain = loss_on_waveforms(model, noisy, clean, LossWeights(), TINY.stft)[0]
        again = loss_on_waveforms(model, noisy, clean, LossWeights(), TINY.stft)[0]
        disturbed = loss_on_waveforms(model, noisy, clean, LossWeights(), TINY.stft, spectrogram_noise=0.5)[0]
    assert plain == again
    assert disturbed != plain


def test_fine_tuning_starts_from_the_given_model(corpus_dir: Path, tmp_path: Path) -> None:
    start = train(config(corpus_dir, tmp_path / "first"), TINY)
    same = train(config(corpus_dir, tmp_path / "tuned", lr=0.0, init_from=str(start)), TINY)  # lr 0: nothing moves
    a, b = load_file(str(start)), load_file(str(same))
    for key, _ in SEUNet(TINY).named_parameters():  # buffers (BN statistics, EMA codebook) move without the optimiser
        assert np.array_equal(a[key].numpy(), b[key].numpy()), key
    other = ModelConfig(channels=(4, 8), se_reduction=2, codebook_size=8)
    with pytest.raises(ValueError, match="another architecture"):
        train(config(corpus_dir, tmp_path / "mismatch", init_from=str(start)), other)


def test_cosine_schedule_anneals_to_a_hundredth_and_resumes_exactly(corpus_dir: Path, tmp_path: Path) -> None:
    straight = train(config(corpus_dir, tmp_path / "straight", steps=8, schedule="cosine", lr=1e-3), TINY)
    lrs = [h["lr"] for h in history(tmp_path / "straight")]
    assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[-1] == pytest.approx(1e-5)
    train(config(corpus_dir, tmp_path / "split", steps=8, schedule="cosine", lr=1e-3, max_minutes=1e-9), TINY)
    resumed = train(config(corpus_dir, tmp_path / "split", steps=8, schedule="cosine", lr=1e-3), TINY, resume=True)
    a, b = load_file(str(straight)), load_file(str(resumed))
    for key in a:
        assert np.array_equal(a[key].numpy(), b[key].numpy()), key
    with pytest.raises(ValueError, match="unknown schedule"):
        train(config(corpus_dir, tmp_path / "bad", schedule="linear"), TINY)


def test_resume_without_a_checkpoint_is_an_error(corpus_dir: Path, tmp_path: Path) -> None:
    """T5: --resume in a folder with no checkpoint does not start a fresh run silently."""
    with pytest.raises(FileNotFoundError, match="no checkpoint in .* to resume; check -o/--out, or drop --resume"):
        train(config(corpus_dir, tmp_path / "run"), TINY, resume=True)
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_a_corpus_of_unreadable_files_says_so(tmp_path: Path) -> None:
    """T7: the message names the unreadable files, not only "no training speech left"."""
    from vqdsp.training.data import load_corpus

    for speaker in ("a", "b"):
        (tmp_path / speaker).mkdir()
        (tmp_path / speaker / "x.wav").write_bytes(b"RIFF not audio")
    with pytest.raises(ValueError, match="2 of 2 files could not be read .first: cannot read audio file"):
        load_corpus([tmp_path])
