from __future__ import annotations

import re
from pathlib import Path

import pedalboard
import pytest

from vqdsp import Pedalboard, VQDenoise
from vqdsp.mastering.presets import BUILTIN, PresetError, effect_names, effect_parameters, load_preset, parse_preset


def test_builtin_speech_preset() -> None:
    preset = load_preset("speech")
    assert (preset.target_lufs, preset.true_peak_dbtp, preset.max_gain_db) == (-16.0, -1.0, 30.0)
    assert preset.limiter is True
    denoise = next(e for e in preset.effects if e.name == "VQDenoise")
    assert preset.max_gain_db == denoise.params["attenuation_limit_db"]  # residual noise never ends louder than it came in
    board = preset.build()
    assert isinstance(board, Pedalboard)
    assert [type(p) for p in board] == [VQDenoise, pedalboard.HighpassFilter, pedalboard.Compressor]
    assert board[2].ratio == pytest.approx(2.5)


def test_preset_file_in_order_with_model_relative_to_the_file(tmp_path: Path) -> None:
    from vqdsp.model.checkpoint import save_model

    from utils import identity_model

    save_model(identity_model(), tmp_path / "id.safetensors")
    path = tmp_path / "calls.toml"
    path.write_text(
        '[loudness]\ntarget_lufs = -23\n\n'
        '[[effects]]\nname = "Gain"\ngain_db = -3\n\n'
        '[[effects]]\nname = "VQDenoise"\nmodel = "id.safetensors"\nmix = 0.5\n\n'
        '[[effects]]\nname = "Resample"\ntarget_sample_rate = 16000\nquality = "Linear"\n'
    )
    preset = load_preset(path)
    assert (preset.name, preset.target_lufs, preset.true_peak_dbtp) == ("calls", -23.0, None)
    board = preset.build()
    assert [type(p).__name__ for p in board] == ["Gain", "VQDenoise", "Resample"]
    assert board[1].model == str(tmp_path / "id.safetensors")
    assert board[2].quality == pedalboard.Resample.Quality.Linear


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[effects]]\nname = "Compresor"', "unknown effect 'Compresor' (did you mean 'Compressor'?)"),
        ('[[effects]]\nname = "Compressor"\nthreshold = -20', "unknown parameter 'threshold' (did you mean 'threshold_db'?)"),
        ('[[effects]]\nname = "VQDenoise"\nattenuation_db = 20', "unknown parameter 'attenuation_db'"),
        ('[[effects]]\nname = "Pedalboard"', "unknown effect 'Pedalboard'"),
        ('[[effects]]\nratio = 2', "needs name"),
        ("[loudnes]\ntarget_lufs = -16", "unknown key 'loudnes' (did you mean 'loudness'?)"),
        ("[loudness]\ntarget_lufs = -16\nceiling = -1", "unknown key 'ceiling'"),
        ("[loudness]\ntarget_lufs = 5", "target_lufs must be a finite number in [-70, 0], got 5"),
        ('[loudness]\ntrue_peak_dbtp = "loud"', "true_peak_dbtp must be a finite number"),
        ("[loudness]\nmax_gain_db = -3", "max_gain_db must be a finite number in [0, 120], got -3"),
        ("[loudness]\nmax_gain_db = nan", "max_gain_db must be a finite number in [0, 120], got nan"),
        ("[loudness]\nmax_gain_db = true", "max_gain_db must be a finite number in [0, 120], got True"),
        ("name = ", "not valid TOML"),
        ("[loudness]\ntarget_lufs = -500", "target_lufs must be a finite number in [-70, 0], got -500"),  # P1: silence otherwise
        ("[loudness]\ntarget_lufs = -1e300", "target_lufs must be a finite number in [-70, 0]"),
        ("[loudness]\ntrue_peak_dbtp = -1e6", "true_peak_dbtp must be a finite number in [-60, 0]"),
        ('[[effects]]\nname = "Gain"\ngain_db = nan', "effect #1 (Gain) gain_db must be a finite number in [-120, 60], got nan"),  # P2
        ('[[effects]]\nname = "Resample"\ntarget_sample_rate = 1', "(Resample) target_sample_rate must be a finite number in [1000, 384000]"),
        ('[[effects]]\nname = "Gain"\ngain_db = 1000', "(Gain) gain_db must be a finite number in [-120, 60], got 1000"),  # P3
        ('[[effects]]\nname = "HighpassFilter"\ncutoff_frequency_hz = -80', "(HighpassFilter) cutoff_frequency_hz must be a finite number in [0.001, 192000]"),
        ('[[effects]]\nname = "HighpassFilter"\ncutoff_frequency_hz = 1e12', "cutoff_frequency_hz must be a finite number in [0.001, 192000]"),
        ('[[effects]]\nname = "Gain"\ngain_db = "loud"', "(Gain) gain_db must be a finite number in [-120, 60], got 'loud'"),  # P5
        ('[[effects]]\nname = "Compressor"\nratio = "high"', "(Compressor) ratio must be a finite number, got 'high'"),
        ('[[effects]]\nname = "BrickwallLimiter"\ntrue_peak = 1', "true_peak must be true or false, got 1"),
        ("a = " + "[" * 2000 + "]" * 2000, "nested too deeply"),  # P4: no RecursionError traceback
    ],
)
def test_bad_preset_is_a_clear_error_when_parsed(text: str, message: str) -> None:
    with pytest.raises(PresetError, match=re.escape(message)):
        parse_preset(text, "t")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[effects]]\nname = "Compressor"\nratio = 0.5', "ratio must be a value >= 1"),
        ('[[effects]]\nname = "VQDenoise"\nmix = 2.0', "mix must be between 0 and 1"),
        ('[[effects]]\nname = "Resample"\nquality = "Best"', "not one of"),
    ],
)
def test_bad_value_is_a_clear_error_when_built(text: str, message: str) -> None:
    preset = parse_preset(text, "t")
    with pytest.raises(PresetError, match=message):
        preset.build()


def test_unknown_preset_name() -> None:
    with pytest.raises(PresetError, match="built-in preset"):
        load_preset("podcastt")


def test_every_listed_effect_has_readable_parameters() -> None:
    assert {"VQDenoise", "HighpassFilter", "Compressor", "Gain", "NoiseGate", "Limiter"} <= set(effect_names())
    assert list(effect_parameters("Compressor")) == ["threshold_db", "ratio", "attack_ms", "release_ms"]
    for name in effect_names():
        assert all(key.isidentifier() for key in effect_parameters(name))


def test_builtin_presets_parse() -> None:
    for name in BUILTIN:
        assert load_preset(name).effects


def test_a_preset_sets_or_turns_off_the_high_band_stage(tmp_path: Path) -> None:
    from vqdsp.model.high_band import HighBandNet, save_high_band

    (tmp_path / "stages").mkdir()
    save_high_band(HighBandNet(), tmp_path / "stages" / "mine.safetensors")  # a path relative to the preset file
    for value, expected in (("none", None), ("default", "default"), ("stages/mine.safetensors", str(tmp_path / "stages" / "mine.safetensors"))):
        path = tmp_path / "p.toml"
        path.write_text(f'[[effects]]\nname = "VQDenoise"\nhigh_band = "{value}"\n')
        assert load_preset(path).build()[0].high_band == expected


def test_a_preset_sets_or_turns_off_the_partner(tmp_path: Path) -> None:
    for value, expected in (("none", None), ("auto", "auto"), ("fast", "fast")):
        path = tmp_path / "p.toml"
        path.write_text(f'[[effects]]\nname = "VQDenoise"\nmodel = "wideband"\npartner = "{value}"\n')
        assert load_preset(path).build()[0].partner == expected


def test_a_preset_names_a_shipped_model_and_the_threads(tmp_path: Path) -> None:
    path = tmp_path / "fast.toml"
    path.write_text('[[effects]]\nname = "VQDenoise"\nmodel = "fast"\nthreads = 2\nchannel_mode = "linked"\n')
    board = load_preset(path).build()
    assert board[0].model == "fast"
    assert (board[0].threads, board[0].channel_mode) == (2, "linked")


@pytest.mark.parametrize(("line", "message"), [("limiter = 1", "true or false"), ("limiter_release_ms = 0.1", r"in \[1, 5000\]"),
                                              ("limiter_release_ms = \"slow\"", "must be a finite number")])
def test_limiter_settings_are_checked(tmp_path, line: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f"[loudness]\ntarget_lufs = -16\ntrue_peak_dbtp = -1\n{line}\n")
    with pytest.raises(PresetError, match=message):
        load_preset(path)


def test_gain_only_presets_still_parse(tmp_path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[loudness]\ntarget_lufs = -16\ntrue_peak_dbtp = -1\nlimiter = false\nlimiter_release_ms = 80\n")
    preset = load_preset(path)
    assert preset.limiter is False
    assert preset.limiter_release_ms == 80.0


def test_a_preset_chooses_the_backend(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'vqdsp[onnx]')")
    path = tmp_path / "ort.toml"
    path.write_text('[[effects]]\nname = "VQDenoise"\nbackend = "onnxruntime"\n')
    assert load_preset(path).build()[0].backend == "onnxruntime"
    path.write_text('[[effects]]\nname = "VQDenoise"\nbackend = "tensorrt"\n')
    with pytest.raises(PresetError, match="backend must be one of 'torch', 'onnxruntime'"):
        load_preset(path).build()
