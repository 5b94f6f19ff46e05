from __future__ import annotations

import argparse
import ast
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import vqdsp
from vqdsp import cli
from vqdsp.cli import EXAMPLE_OUTPUT, WRITABLE, build_parser, main

from utils import speech_like


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


def test_denoise_high_band_option(noisy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vqdsp.audio.effect import VQDenoise

    audio, rate = sf.read(noisy_file, dtype="float32", always_2d=True)
    for value, high_band in (("none", None), ("default", "default")):
        out = tmp_path / f"{value}.wav"
        assert main(["denoise", str(noisy_file), "-o", str(out), "--high-band", value]) == 0
        expected = VQDenoise(high_band=high_band)(audio.T, rate).T
        np.testing.assert_allclose(sf.read(out, dtype="float32", always_2d=True)[0], expected, atol=2e-4)  # 24-bit output
    assert main(["denoise", str(noisy_file), "-o", str(tmp_path / "x.wav"), "--high-band", str(tmp_path / "missing.safetensors")]) == 1
    assert "high_band=None" in capsys.readouterr().err


def test_denoise_partner_option(noisy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vqdsp.audio.effect import VQDenoise

    audio, rate = sf.read(noisy_file, dtype="float32", always_2d=True)
    for value, partner in (("none", None), ("auto", "auto")):
        out = tmp_path / f"{value}.wav"
        assert main(["denoise", str(noisy_file), "-o", str(out), "-m", "wideband", "--partner", value, "-v"]) == 0
        said = capsys.readouterr().out
        assert ("averaged with 'default'" in said) == (partner is not None)
        expected = VQDenoise(model="wideband", partner=partner)(audio.T, rate).T
        np.testing.assert_allclose(sf.read(out, dtype="float32", always_2d=True)[0], expected, atol=2e-4)  # 24-bit output


def test_denoise_verbose_names_the_model_chosen_for_the_rate(noisy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["denoise", str(noisy_file), "-o", str(tmp_path / "a.wav"), "-v"]) == 0
    expected = "16000 Hz, 2 channel(s): model 'wideband' (chosen by rate) at 16 kHz, averaged with 'default' (8 kHz) below 3.8 kHz"
    assert expected in capsys.readouterr().out
    assert main(["denoise", str(noisy_file), "-o", str(tmp_path / "b.wav"), "-v", "-m", "default"]) == 0
    assert "model 'default' at 8 kHz, high-band stage from 3.8 to 8 kHz" in capsys.readouterr().out


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


def test_bundled_example_runs_twice_into_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["denoise"]) == 0
    first = (tmp_path / EXAMPLE_OUTPUT).read_bytes()
    assert main(["denoise"]) == 0  # `make denoise` twice: the example's own output is replaced
    assert (tmp_path / EXAMPLE_OUTPUT).read_bytes() == first
    assert EXAMPLE_OUTPUT.parts[0] == "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_bundled_example_output_is_git_ignored() -> None:
    root = Path(__file__).parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    assert subprocess.run(["git", "check-ignore", "-q", str(EXAMPLE_OUTPUT)], cwd=root).returncode == 0


@pytest.mark.parametrize(
    ("make_input", "output", "message"),
    [
        (lambda d: d / "missing.wav", None, "no such file"),
        (lambda d: d, None, "is a folder"),
        (lambda d: _text_file(d / "readme.md"), None, "not an audio file"),
        (lambda d: _text_file(d / "readme.md"), "out.wav", "not an audio file"),  # the input is checked first
    ],
    ids=["missing", "folder", "text", "text-with-output"],
)
def test_errors_blame_the_input(tmp_path: Path, capsys: pytest.CaptureFixture, make_input, output, message: str) -> None:
    argv = ["denoise", str(make_input(tmp_path))] + (["-o", str(tmp_path / output)] if output else [])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "cannot write" not in err
    assert err.count("\n") == 1  # one line, not the errors of every decoder tried


@pytest.mark.parametrize(
    ("output", "messages"),
    [("out_noext", ("has no extension", ".mp3")), ("out.md", ("cannot write", ".mp3")), ("missing/out.wav", ("no folder", "create it"))],
)
def test_errors_blame_the_output(noisy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture, output: str, messages: tuple[str, ...]) -> None:
    assert main(["denoise", str(noisy_file), "-o", str(tmp_path / output)]) == 1
    err = capsys.readouterr().err
    assert all(m in err for m in messages)
    assert not (tmp_path / output).exists()


def test_writes_every_format_the_errors_list(noisy_file: Path, tmp_path: Path) -> None:
    for suffix in WRITABLE:
        assert main(["denoise", str(noisy_file), "-o", str(tmp_path / f"out{suffix}")]) == 0
        assert sf.info(tmp_path / f"out{suffix}").samplerate == 16000


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "two"])
def test_threads_must_be_a_positive_integer(value: str, capsys: pytest.CaptureFixture) -> None:
    for command in (["denoise"], ["master", "in", "-o", "out"]):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--threads", value])
        assert exit_.value.code == 2
        assert "whole number >= 1" in capsys.readouterr().err


def test_threads_reach_the_effect(noisy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vqdsp.audio import effect

    built: list[effect.VQDenoise] = []

    class Recorded(effect.VQDenoise):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(effect, "VQDenoise", Recorded)
    assert main(["denoise", str(noisy_file), "-o", str(tmp_path / "o.wav"), "--threads", "2"]) == 0
    assert main(["master", str(noisy_file), "-o", str(tmp_path / "m"), "--threads", "3", "--no-progress"]) == 0
    assert [e.threads for e in built][0] == 2
    assert built[-1].threads == 3


def test_master_threads_are_split_between_jobs() -> None:
    from vqdsp.mastering.presets import load_preset

    preset = load_preset("speech")
    split = cli.with_threads(preset, 5, 2)
    assert [e.params.get("threads") for e in split.effects if e.name == "VQDenoise"] == [2]
    assert [e for e in split.effects if e.name != "VQDenoise"] == [e for e in preset.effects if e.name != "VQDenoise"]
    assert cli.with_threads(preset, 1, 4).effects[0].params["threads"] == 1  # at least one each


def test_denoise_threads_default_is_the_effect_s() -> None:
    from vqdsp.audio.effect import VQDenoise

    default = inspect.signature(VQDenoise).parameters["threads"].default
    assert build_parser().parse_args(["denoise"]).threads == default


def _text_file(path: Path) -> Path:
    path.write_text("# not audio\n")
    return path


def _sub_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_help_shows_every_default() -> None:
    for name, parser in _sub_parsers(build_parser()).items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and action.help != argparse.SUPPRESS:
                assert "default" in formatter._get_help_string(action), f"vqdsp {name} {action.option_strings[-1]}"
    help_text = " ".join(_sub_parsers(build_parser())["denoise"].format_help().split())
    assert "--attenuation-limit-db ATTENUATION_LIMIT_DB deepest noise suppression, in dB; 20-30 keeps a natural floor (default: no limit)" in help_text
    assert "(default: 0)" in " ".join(_sub_parsers(build_parser())["train"].format_help().split())  # zero is a default too


def test_help_defaults_match_the_modules() -> None:
    from vqdsp.evaluation.evaluate import NoiseRecipe
    from vqdsp.evaluation.systems import SYSTEMS
    from vqdsp.mastering.presets import BUILTIN
    from vqdsp.model.config import ModelConfig
    from vqdsp.training.data import NoiseMix
    from vqdsp.training.high_band import HighBandTrainConfig
    from vqdsp.training.train import TrainConfig

    assert (cli.EVAL_SYSTEMS, cli.EVAL_NOISE, cli.EVAL_SNR_DB) == (SYSTEMS, NoiseRecipe.types, NoiseRecipe.snr_db)
    assert (cli.TRAIN_NOISE, cli.TRAIN_SNR_DB) == (NoiseMix.types, NoiseMix.snr_db)
    from vqdsp.evaluation.evaluate import CONDITION_TYPES
    from vqdsp.training.noise import NOISE_TYPES

    assert (cli.NOISE_TYPES, cli.CONDITION_TYPES) == (NOISE_TYPES, CONDITION_TYPES)
    assert cli.PRESETS == tuple(sorted(BUILTIN))
    train = vars(build_parser().parse_args(["train", "data"]))
    config = TrainConfig()
    for name in ("out", "steps", "batch_size", "lr", "eval_every", "val_segments", "val_utterances", "seed", "threads"):
        assert train[name] == getattr(config, name), name
    assert (tuple(train["channels"]), train["codebook_size"]) == (ModelConfig().channels, ModelConfig().codebook_size)
    high = vars(build_parser().parse_args(["train-high-band", "data"]))
    high_config = HighBandTrainConfig()
    for name in ("out", "model", "sample_rate", "segments", "val_segments", "steps", "batch_size", "lr", "seed", "threads"):
        assert high[name] == getattr(high_config, name), name
    assert high["speech_suppression_weight"] == high_config.speech_suppression
    stage = high_config.stage
    assert cli.HIGH_BAND_STAGE == (stage.channels, stage.kernel, stage.layers, stage.bands, stage.top_hz)


# The code run in a fresh interpreter: each argv, then whether torch was imported.
_NO_TORCH = """
import sys
from vqdsp.cli import main
for argv in {argvs!r}:
    try:
        main(argv)
    except SystemExit:
        pass
    print(argv, "torch" in sys.modules, file=sys.stderr)
"""


def test_help_version_and_argument_errors_do_not_import_torch() -> None:
    argvs = [["--help"], ["--version"], ["denoise", "--help"], ["master", "--help"], ["eval", "--help"], ["train", "--help"],
             ["denoise", "--threads", "0"], ["master", "--jobs", "x"], ["nonsense"]]  # fmt: skip
    run = subprocess.run([sys.executable, "-c", _NO_TORCH.format(argvs=argvs)], capture_output=True, text=True, timeout=120)
    lines = [line for line in run.stderr.splitlines() if line.endswith((" True", " False"))]
    assert len(lines) == len(argvs), run.stderr
    assert all(line.endswith("False") for line in lines), "\n".join(lines)


def test_no_module_imports_the_cli() -> None:
    """The command imports the library, never the other way round (no import cycle)."""
    package = Path(vqdsp.__file__).parent
    for path in package.rglob("*.py"):
        if path.name == "__main__.py" or path.parent.name == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert "vqdsp.cli" not in names, f"{path.relative_to(package)} imports vqdsp.cli"


def test_every_denoise_option_with_a_default_shows_it(capsys: pytest.CaptureFixture) -> None:
    parser = build_parser()
    denoise = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["denoise"]
    formatter = cli.HelpFormatter("vqdsp denoise")
    for action in denoise._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert "(default: " in formatter._get_help_string(action), action.option_strings


def test_the_readme_lists_the_inputs_the_help_lists() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"Inputs: {cli.READABLE}" in " ".join(readme.split())
    assert str(cli.EXAMPLE.relative_to(Path(vqdsp.__file__).parents[1])) in readme
    assert cli.EXAMPLE.is_file()
