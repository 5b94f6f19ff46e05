from __future__ import annotations

import numpy as np
import pytest

from vqdsp.audio.framing import SegmentStream, crossfade_ramp, flush_padding
from vqdsp.audio.stft import istft, stft
from vqdsp.model.config import StftConfig

CFG = StftConfig()


def through_stft(segments: np.ndarray) -> np.ndarray:
    assert segments.ndim == 3
    assert segments.dtype == np.float32  # [channels, N, segment]
    return istft(stft(segments, CFG), segments.shape[-1], CFG)


def test_crossfade_ramp_is_monotone_from_zero_to_one() -> None:
    ramp = crossfade_ramp(2000)
    assert ramp[0] == 0
    assert ramp[-1] == 1
    assert np.all(np.diff(ramp) >= 0)
    assert ramp[499] == 0
    assert ramp[1500] == 1  # the transition sits in the middle half


@pytest.mark.parametrize("length", [1, 2, 1999, 2000, 6001, 8000, 8001, 14000, 60 * 8000 + 17])
def test_identity_through_the_stft_gives_back_the_input(length: int) -> None:
    audio = np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    stream = SegmentStream(through_stft, CFG.segment_samples, CFG.segment_overlap, channels=2)
    out = stream.process_all(audio)
    assert out.shape == audio.shape
    assert np.max(np.abs(out - audio)) < 1e-4


def test_seams_have_no_level_dip() -> None:
    """A constant gain through the stream keeps the level of a tone across every seam."""
    tone = np.sin(2 * np.pi * 440 * np.arange(40000) / 8000).astype(np.float32)[None]
    out = SegmentStream(lambda s: s * 0.5, 8000, 2000).process_all(tone)
    assert np.allclose(out, tone * 0.5, atol=1e-6)


def test_each_output_sample_comes_from_the_inside_of_a_segment() -> None:
    """Segment edges (where a model lacks context) get no weight: mark them and look for the marks."""
    def mark_edges(segments: np.ndarray) -> np.ndarray:
        out = segments.copy()
        out[..., :400] = 1e3
        out[..., -400:] = 1e3
        return out

    audio = np.zeros((1, 40000), np.float32)
    out = SegmentStream(mark_edges, 8000, 2000).process_all(audio)
    assert np.all(out[:, 400:-8000] == 0)


@pytest.mark.parametrize("chunk", [1, 97, 512, 8192, 30000])
def test_chunked_stream_equals_one_shot_after_the_latency(chunk: int) -> None:
    rng = np.random.default_rng(chunk)
    audio = rng.standard_normal((2, 25000)).astype(np.float32)
    stream = SegmentStream(through_stft, 8000, 2000, channels=2, batch=3)
    whole = stream.process_all(audio)
    padded = np.concatenate([audio, flush_padding(audio, stream.latency)], axis=1)
    chunks = [stream.push(padded[:, i : i + chunk]) for i in range(0, padded.shape[1], chunk)]
    streamed = np.concatenate(chunks, axis=1)
    assert np.all(streamed[:, : stream.latency] == 0)
    assert np.allclose(streamed[:, stream.latency :], whole, atol=1e-6)


def test_reset_forgets_the_past() -> None:
    stream = SegmentStream(lambda s: s, 100, 20)
    stream.push(np.ones((1, 1000), np.float32))
    stream.reset()
    assert np.all(stream.push(np.zeros((1, 150), np.float32)) == 0)


def test_wrong_shapes_are_named() -> None:
    with pytest.raises(ValueError, match="overlap"):
        SegmentStream(lambda s: s, 100, 60)
    with pytest.raises(ValueError, match=r"\[2, samples\]"):
        SegmentStream(lambda s: s, 100, 20, channels=2).push(np.zeros((1, 10), np.float32))


def test_flush_padding_mirrors_the_end() -> None:
    recent = np.arange(1, 6, dtype=np.float32)[None]
    assert flush_padding(recent, 7).tolist() == [[5, 4, 3, 2, 1, 1, 2]]
    assert flush_padding(np.zeros((2, 0), np.float32), 3).shape == (2, 3)


def test_the_end_of_a_signal_is_processed_like_its_middle() -> None:
    """The last segment sees the signal continued (mirrored), not digital silence."""
    seen = []

    def record(segments: np.ndarray) -> np.ndarray:
        seen.append(np.abs(segments).min(axis=-1).ravel())
        return segments

    noise = np.random.default_rng(0).uniform(0.5, 1.0, (1, 9000)).astype(np.float32)
    SegmentStream(record, 8000, 2000).process_all(noise)
    assert np.all(np.concatenate(seen) >= 0.5)


def test_output_is_float32_and_batches_are_bounded() -> None:
    sizes = []

    def record(segments: np.ndarray) -> np.ndarray:
        sizes.append(segments.shape[:2])
        return segments

    out = SegmentStream(record, 800, 200, channels=2, batch=3).process_all(np.ones((2, 5000), np.float32))
    assert out.dtype == np.float32
    assert max(n for _, n in sizes) == 3
    assert all(c == 2 for c, _ in sizes)


def test_an_executor_gives_the_same_output() -> None:
    from concurrent.futures import ThreadPoolExecutor

    audio = np.random.default_rng(5).standard_normal((2, 30000)).astype(np.float32)
    alone = SegmentStream(through_stft, 8000, 2000, channels=2, batch=1).process_all(audio)
    with ThreadPoolExecutor(2) as pool:
        stream = SegmentStream(through_stft, 8000, 2000, channels=2, batch=1, executor=pool)
        assert np.array_equal(stream.process_all(audio), alone)
        assert np.array_equal(np.concatenate([stream.push(audio), stream.push(flush_padding(audio, 8000))], 1)[:, 8000:], alone)
