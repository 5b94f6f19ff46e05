"""How ``VQDenoise`` reads the layout of streamed chunks: the stream's established layout, or a clear error (E1-E3).

A channels-last stream cut into chunks of every size from 1 to 2 x channels, with and without ``channels=``,
must give what the same stream in one chunk gives, or refuse its first chunk saying what to set.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqdsp import VQDenoise
from vqdsp.audio.layout import GUESS_FROM_SAMPLES
from vqdsp.model.config import ModelConfig, StftConfig
from vqdsp.model.unet import SEUNet

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SHORT = ModelConfig(channels=(4, 8), se_reduction=2, codebook_size=16, stft=StftConfig(segment_samples=1040, segment_overlap=260))
FRAMES = 2400


@pytest.fixture(scope="module")
def model() -> SEUNet:
    return SEUNet(SHORT).eval()


def _audio(channels: int) -> np.ndarray:
    """``(FRAMES, channels)``: a different signal in each channel, so a misread layout shows."""
    rng = np.random.default_rng(channels)
    return (0.3 * rng.standard_normal((FRAMES, channels))).astype(np.float32)


def _stream(effect: VQDenoise, audio: np.ndarray, sizes: list[int]) -> np.ndarray:
    effect.reset()
    out, start = [], 0
    for size in sizes:
        out.append(effect(audio[start : start + size], 8000, reset=False))
        start += size
    return np.concatenate(out)


def _sizes(first: int, size: int) -> list[int]:
    rest = FRAMES - first
    return [first] + [size] * (rest // size) + ([rest % size] if rest % size else [])


assert 2 * 4 <= GUESS_FROM_SAMPLES  # so every chunk drawn below is too small to guess its layout from


@FUZZ
@given(channels=st.integers(1, 4), data=st.data(), hinted=st.booleans())
def test_tiny_channels_last_chunks_give_the_one_chunk_output_or_a_clear_error(model: SEUNet, channels: int, data: st.DataObject,
                                                                               hinted: bool) -> None:
    size = data.draw(st.integers(1, 2 * channels), label="chunk")
    effect = VQDenoise(model=model, high_band=None, channels=channels if hinted else None)
    audio = _audio(channels)
    reference = _stream(effect, audio, [FRAMES])
    if not hinted or (size == channels > 1):  # the first chunk could be either layout: refused, saying what to set
        with pytest.raises(ValueError, match="set channels=|start the stream with a chunk of more than"):
            _stream(effect, audio, _sizes(size, size))
    else:
        np.testing.assert_allclose(_stream(effect, audio, _sizes(size, size)), reference, atol=1e-6)


@pytest.mark.parametrize("hinted", [False, True])
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_after_a_long_first_chunk_every_tiny_chunk_follows_the_stream(model: SEUNet, channels: int, hinted: bool) -> None:
    effect = VQDenoise(model=model, high_band=None, channels=channels if hinted else None)
    audio = _audio(channels)
    reference = _stream(effect, audio, [FRAMES])
    for size in range(1, 2 * channels + 1):  # E1: (2, 2) chunks of a (N, 2) stream are channels-last, as the stream is
        np.testing.assert_allclose(_stream(effect, audio, _sizes(400, size)), reference, atol=1e-6, err_msg=f"chunks of {size}")


def test_an_ambiguous_first_chunk_is_refused_with_the_fix(model: SEUNet) -> None:
    audio = _audio(2)
    with pytest.raises(ValueError, match=r"start of a stream; set channels= .*VQDenoise\(channels=1\)"):  # E2: (1, 2), no channels=
        VQDenoise(model=model, high_band=None)(audio[:1], 8000, reset=False)
    with pytest.raises(ValueError, match="start the stream with a chunk of more than 2 samples"):  # E1: (2, 2) with channels=2
        VQDenoise(model=model, high_band=None, channels=2)(audio[:2], 8000, reset=False)


def test_a_wrong_channel_count_names_channels_as_the_fix(model: SEUNet) -> None:
    stereo = _audio(2).T
    with pytest.raises(ValueError, match=r"channels=1.*set channels= to the audio's channel count"):  # E3
        VQDenoise(model=model, high_band=None, channels=1)(stereo, 8000)
    effect = VQDenoise(model=model, high_band=None)
    effect(stereo[:, :500], 8000, reset=False)
    with pytest.raises(ValueError, match=r"the stream in progress.*call reset\(\)"):
        effect(_audio(3).T[:, :500], 8000, reset=False)
