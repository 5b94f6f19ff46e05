"""Fuzz the high-band stage's files: any tampered config or weights loads a working stage or raises HighBandError.

Never another exception (TypeError, OverflowError, MemoryError, ...), never a stage whose gains are NaN (C3-C6).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from vqdsp.audio.stft import stft
from vqdsp.model.config import StftConfig
from vqdsp.model.high_band import HIGH_BAND_FORMAT, HighBandError, HighBandNet, load_high_band, save_high_band

from utils import copy_with_config, wideband_speech_like, with_changes

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
KEYS = ["crossover", "bands", "low_bands", "top_hz", "channels", "kernel", "layers", "max_attenuation_db", "model_stft",
        "model_stft.nperseg", "model_stft.sample_rate", "model_stft.window", "unknown_key"]
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 3, 4, 5, 100000, 10**6, 10**7 + 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5), st.sampled_from(["0.9", "60", "Infinity"]),
)
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                      max_leaves=6)
AUDIO = StftConfig(sample_rate=16000, nperseg=1038, noverlap=976)


@pytest.fixture(scope="module")
def saved() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="vqdsp-fuzz-"))
    net = HighBandNet()
    with torch.no_grad():
        net.out.weight.normal_(0, 0.1)
    yield save_high_band(net, folder / "stage.safetensors")
    shutil.rmtree(folder)


def _loads_or_refuses(path: Path) -> None:
    try:
        stage = load_high_band(path)
    except HighBandError:
        return
    if stage.config.min_sample_rate > AUDIO.sample_rate:
        return
    audio = wideband_speech_like(0.3, AUDIO.sample_rate)
    spec = stft(audio, AUDIO)
    log_gain = np.zeros(spec.shape, np.float32)
    out = stage.set_log_gain(spec, log_gain, AUDIO)
    assert np.isfinite(out).all()
    assert (out <= 0).all()


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=3))
def test_a_tampered_stage_config_loads_or_is_refused(saved: Path, changes: dict) -> None:
    path = copy_with_config(saved)
    try:
        cfg = with_changes(json.loads(path.with_suffix(".json").read_text()), changes)
        path.with_suffix(".json").write_text(json.dumps(cfg))
        _loads_or_refuses(path)
    finally:
        shutil.rmtree(path.parent)


@FUZZ
@given(scale=st.sampled_from([0.0, -1.0, 1e3, 1e6, 1e30, float("inf"), float("nan")]),
       dtype=st.sampled_from([torch.float32, torch.float16, torch.float64, torch.int32, torch.int8, torch.bool]),
       which=st.sampled_from(["all", "out.weight", "body.0.weight"]))
def test_scaled_or_recast_stage_weights_load_or_are_refused(saved: Path, scale: float, dtype: torch.dtype, which: str) -> None:
    path = copy_with_config(saved)
    try:
        state = load_file(str(path))
        with np.errstate(all="ignore"):
            state = {k: (v * scale if which in ("all", k) else v).to(dtype) for k, v in state.items()}
        save_file(state, str(path), metadata={"format": HIGH_BAND_FORMAT})
        _loads_or_refuses(path)
    finally:
        shutil.rmtree(path.parent)
