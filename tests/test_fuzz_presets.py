"""Fuzz preset files: any TOML a user may write parses and builds, or raises PresetError naming what to fix.

Types, ranges and nesting (P1-P5): never a TypeError, RecursionError or pybind's cut-off message, never a
preset that passes and then silences or empties every file.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqdsp.mastering.presets import PresetError, parse_preset

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
EFFECTS = {  # pedalboard effects and the parameters the sweep tried
    "Gain": ["gain_db"], "HighpassFilter": ["cutoff_frequency_hz"], "LowpassFilter": ["cutoff_frequency_hz"],
    "Compressor": ["threshold_db", "ratio", "attack_ms", "release_ms"], "Limiter": ["threshold_db", "release_ms"],
    "Resample": ["target_sample_rate", "quality"], "Delay": ["delay_seconds", "feedback", "mix"], "Bitcrush": ["bit_depth"],
    "PeakFilter": ["cutoff_frequency_hz", "gain_db", "q"], "Reverb": ["room_size", "wet_level"],
}
SCALARS = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1, -80, 1000, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-500.0, -1e300, -1e6, 1e12, -0.0]),
    st.text(max_size=6), st.sampled_from(["loud", "Best", "none", ""]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.from_regex(r"[a-z]{1,4}", fullmatch=True), inner, max_size=2),
                      max_leaves=5)


def _toml(value: object) -> str:
    """``value`` as a TOML value (inline tables and arrays for nesting)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


@st.composite
def presets(draw: st.DrawFn) -> str:
    lines = []
    loudness = draw(st.dictionaries(st.sampled_from(["target_lufs", "true_peak_dbtp", "max_gain_db"]), VALUES, max_size=3))
    if loudness:
        lines += ["[loudness]", *(f"{k} = {_toml(v)}" for k, v in loudness.items())]
    for name in draw(st.lists(st.sampled_from(sorted(EFFECTS)), max_size=3)):
        params = draw(st.dictionaries(st.sampled_from(EFFECTS[name]), VALUES, max_size=2))
        lines += ["[[effects]]", f'name = "{name}"', *(f"{k} = {_toml(v)}" for k, v in params.items())]
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=presets())
def test_a_preset_builds_into_a_chain_that_keeps_the_signal_or_is_refused(text: str) -> None:
    try:
        preset = parse_preset(text, "fuzz")
        board = preset.build()
    except PresetError:
        return
    for value in (preset.target_lufs, preset.true_peak_dbtp):
        assert value is None or -70 <= value <= 0  # P1: no target that writes silence
    audio = (0.1 * np.random.default_rng(0).standard_normal((1, 4800))).astype(np.float32)
    out = board(audio, 48000)
    assert out.shape == audio.shape  # P2: no empty output
    assert np.isfinite(out).all()  # P2, P3: no NaN that fails every file later


@FUZZ
@given(depth=st.integers(1, 3000), kind=st.sampled_from(["array", "table"]))
def test_nesting_of_any_depth_is_parsed_or_refused(depth: int, kind: str) -> None:
    """P4: a deeply nested value is a PresetError, never a RecursionError."""
    value = "[" * depth + "]" * depth if kind == "array" else "{a = " * depth + "1" + "}" * depth
    with pytest.raises(PresetError, match="nested too deeply|gain_db must be a finite number"):
        parse_preset(f"[[effects]]\nname = \"Gain\"\ngain_db = {value}\n", "deep")
