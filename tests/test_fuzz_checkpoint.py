"""Fuzz checkpoint loading: any tampered config or weights file loads a working model or raises CheckpointError.

Never another exception (TypeError, RecursionError, MemoryError, ...), never a model that gives NaN.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqdsp.model.checkpoint import CheckpointError, load_model, save_model
from vqdsp.model.unet import SEUNet

from utils import TINY, copy_with_config, with_changes

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
KEYS = ["channels", "se_reduction", "codebook_size", "commitment", "ema_decay", "dead_code_threshold", "max_attenuation_db",
        "stft", "stft.sample_rate", "stft.nperseg", "stft.noverlap", "stft.window", "stft.segment_samples",
        "stft.segment_overlap", "stft.log_floor", "unknown_key"]
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 4, 8, 16, 256, 65537, 10**7]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
)
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                      max_leaves=8)


@pytest.fixture(scope="module")
def saved() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vqdsp-fuzz-"))
    save_model(SEUNet(TINY).eval(), folder / "m.safetensors")
    yield folder / "m.safetensors"
    shutil.rmtree(folder)


def _loads_or_refuses(path: Path) -> None:
    try:
        model = load_model(path)
    except CheckpointError:
        return
    cfg = model.config
    assert math.isfinite(cfg.max_attenuation_db)
    assert cfg.max_attenuation_db > 0
    out = model(torch.randn(1, 12, 12))
    assert torch.isfinite(out.log_gain).all()


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=3))
def test_a_tampered_config_loads_or_is_refused(saved: Path, changes: dict) -> None:
    path = copy_with_config(saved)
    try:
        cfg = with_changes(json.loads(path.with_suffix(".json").read_text()), changes)
        path.with_suffix(".json").write_text(json.dumps(cfg))
        _loads_or_refuses(path)
    finally:
        shutil.rmtree(path.parent)


@FUZZ
@given(data=st.data())
def test_corrupt_weight_files_load_or_are_refused(saved: Path, data: st.DataObject) -> None:
    path = copy_with_config(saved)
    try:
        raw = bytearray(path.read_bytes())
        how = data.draw(st.sampled_from(["flip", "truncate", "header", "nan"]))
        if how == "truncate":
            raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
        elif how == "header":  # the JSON header: lengths, dtypes, shapes, offsets
            header_len = int.from_bytes(raw[:8], "little")
            for _ in range(data.draw(st.integers(1, 4))):
                raw[data.draw(st.integers(0, 8 + header_len - 1))] = data.draw(st.integers(0, 255))
        elif how == "nan":  # a float32 NaN/Inf written over a weight
            header_len = int.from_bytes(raw[:8], "little")
            at = data.draw(st.integers(8 + header_len, len(raw) - 4)) & ~3
            raw[at : at + 4] = data.draw(st.sampled_from([b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\x80\xff"]))
        else:
            for _ in range(data.draw(st.integers(1, 8))):
                raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        path.write_bytes(bytes(raw))
        _loads_or_refuses(path)
    finally:
        shutil.rmtree(path.parent)


def test_nested_json_bombs_are_refused(saved: Path) -> None:
    path = copy_with_config(saved)
    try:
        for depth in (50, 5_000, 200_000):
            path.with_suffix(".json").write_text('{"stft": ' + "[" * depth + "]" * depth + "}")
            with pytest.raises(CheckpointError):
                load_model(path)
    finally:
        shutil.rmtree(path.parent)
