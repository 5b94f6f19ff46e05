from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.stft import log_magnitude, stft
from vqdsp.audio.transforms import OVERLAP, audio_stft, frames_of, model_fft_length, rate_transforms, scaled_stft
from vqdsp.model.config import ModelConfig, StftConfig

from utils import TINY, identity_model, speech_like

MODELS = {"8 kHz": StftConfig(), "16 kHz": StftConfig.seed_grid(16000)}
RATES = [16000, 22050, 32000, 44100, 48000, 96000]


def five_smooth(n: int) -> bool:
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("rate", [8000, *RATES])
def test_the_audio_transform_is_fast_and_as_long_as_the_models_window(model: str, rate: int) -> None:
    cfg, scaled = audio_stft(MODELS[model], rate), scaled_stft(MODELS[model], rate)
    if rate == MODELS[model].sample_rate:
        assert cfg == MODELS[model]  # the model's own STFT, also its input
        return
    assert five_smooth(cfg.nperseg)
    assert cfg.hop * OVERLAP == cfg.nperseg
    assert scaled.nperseg <= cfg.nperseg < 1.15 * scaled.nperseg  # the next 5-smooth multiple of 4
    assert cfg.segment_samples == scaled.segment_samples


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("rate", [8000, *RATES])
@pytest.mark.parametrize("linked", [False, True])
def test_an_identity_gain_gives_back_the_input(model: str, rate: int, linked: bool) -> None:
    """Perfect reconstruction of the audio-rate transform, through the whole segment path."""
    denoiser = Denoiser(identity_model(ModelConfig(channels=TINY.channels, se_reduction=2, codebook_size=16, stft=MODELS[model])))
    length = denoiser.segment_length(rate)[0]
    segments = np.random.default_rng(rate).uniform(-0.5, 0.5, (2, 2, length)).astype(np.float32)
    out = denoiser.process_segments(segments, rate, linked=linked)
    assert out.dtype == np.float32
    assert np.max(np.abs(out - segments)) < 1e-4


@pytest.mark.parametrize("rate", [16000, 48000])
def test_a_constant_gain_stays_constant_and_a_step_is_averaged_over_a_hop(rate: int) -> None:
    transforms = rate_transforms(StftConfig(), rate)
    model_frames, audio_frames = transforms.frames
    assert (model_frames, audio_frames) == (frames_of(StftConfig(), 8000), frames_of(transforms.audio, rate))
    np.testing.assert_allclose(transforms.map_gain(np.full((2, 260, model_frames), -1.5, np.float32)), -1.5, atol=1e-6)
    step = np.zeros((260, model_frames), np.float32)
    step[:, model_frames // 2 :] = -2.0  # the gain drops between two model frames
    mapped = transforms.map_gain(step)
    assert mapped.shape == (transforms.audio.n_freqs, audio_frames)
    np.testing.assert_allclose(mapped, np.broadcast_to(mapped[:1], mapped.shape), atol=1e-5)  # the same in every bin, above the model's band too
    mapped = mapped[0]
    assert np.all(np.diff(mapped) <= 1e-6)  # monotone: no ringing
    times = np.arange(audio_frames) * transforms.audio.hop / rate
    drop = (model_frames // 2 - 0.5) * StftConfig().hop / 8000  # half-way between the two frames
    far = np.abs(times - drop) > transforms.audio.hop / rate
    np.testing.assert_allclose(mapped[far], np.where(times[far] > drop, -2.0, 0.0), atol=1e-6)


def test_the_stage_frames_interpolate_there_and_average_back() -> None:
    transforms = rate_transforms(StftConfig.seed_grid(16000), 48000)
    assert transforms.stage_frames is not None
    to_model, to_audio = (m.numpy() for m in transforms.stage_frames)
    model_frames, audio_frames = transforms.frames
    assert to_model.shape == (audio_frames, model_frames)
    assert to_audio.shape == (model_frames, audio_frames)
    np.testing.assert_allclose(to_model.sum(axis=0), 1, atol=1e-6)
    np.testing.assert_allclose(to_audio.sum(axis=0), 1, atol=1e-6)
    ramp = np.arange(audio_frames, dtype=np.float32)
    np.testing.assert_allclose((ramp @ to_model @ to_audio)[2:-2], ramp[2:-2], atol=1e-3)  # there and back keeps a ramp
    assert rate_transforms(StftConfig(), 8000).stage_frames is None


@pytest.mark.parametrize("model", list(MODELS))
def test_the_models_transform_runs_on_an_even_fft_and_reads_its_own_bins(model: str) -> None:
    cfg = MODELS[model]
    transforms = rate_transforms(cfg, cfg.sample_rate)
    assert (cfg.nperseg, transforms.model_fft, transforms.audio_fft) == (519, 520, 520)
    assert model_fft_length(replace(cfg, nperseg=520, noverlap=520 - cfg.hop)) == 520  # an even window as it is
    audio = np.stack([speech_like(1.0, cfg.sample_rate, seed=s)[: cfg.segment_samples] for s in range(3)])
    model_in = transforms.model_input(audio)
    assert model_in.shape == (3, 260, 260)  # what the model was trained on: one second is 260 x 260
    unpadded = log_magnitude(stft(audio, cfg), cfg)
    assert np.median(np.abs(model_in - unpadded)) < 0.02  # bins 0.2% lower: nearly the same spectrogram of speech
    gain = np.zeros((3, 260, 260), np.float32)
    gain[:, -1] = -1.0
    assert transforms.map_gain(gain).shape == (3, 261, 260)
    assert np.all(transforms.map_gain(gain)[:, -2:] == -1.0)  # the padded FFT's extra bin takes the top bin's gain
