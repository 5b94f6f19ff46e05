from __future__ import annotations

import numpy as np
import pytest

from vqdsp.audio.denoiser import Denoiser
from vqdsp.training.noise import rms, white_noise

from utils import identity_model, speech_like


def segments_at(sample_rate: int, channels: int = 2, count: int = 3, seed: int = 0) -> np.ndarray:
    """Random segments ``[channels, count, one model segment at sample_rate]``."""
    length = Denoiser(identity_model()).segment_length(sample_rate)[0]
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (channels, count, length)).astype(np.float32)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("linked", [False, True])
def test_identity_model_gives_back_the_segments(sample_rate: int, linked: bool) -> None:
    segments = segments_at(sample_rate)
    out = Denoiser(identity_model()).process_segments(segments, sample_rate, linked=linked)
    assert out.shape == segments.shape
    assert out.dtype == np.float32
    assert np.max(np.abs(out - segments)) < 1e-4


@pytest.mark.parametrize("sample_rate", [8000, 48000])
def test_one_stft_per_rate_and_segment(monkeypatch: pytest.MonkeyPatch, sample_rate: int) -> None:
    """At the model's rate its own STFT is the one the gain is applied to; at another rate there is one more."""
    from vqdsp.audio import transforms as transforms_module

    transformed: dict[int, int] = {}
    original = transforms_module.stft

    def counting(audio: np.ndarray, cfg, workers: int = 1, nfft: int | None = None) -> np.ndarray:
        transformed[cfg.sample_rate] = transformed.get(cfg.sample_rate, 0) + audio.size // audio.shape[-1]
        return original(audio, cfg, workers, nfft)

    monkeypatch.setattr(transforms_module, "stft", counting)  # every transform of the path is made there
    Denoiser(identity_model()).process_segments(segments_at(sample_rate, channels=2, count=5), sample_rate)
    assert transformed == ({8000: 10} if sample_rate == 8000 else {8000: 10, sample_rate: 10})


def test_segments_go_through_the_model_in_batches() -> None:
    model = identity_model()
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    Denoiser(model, batch_size=4).process_segments(segments_at(8000, channels=3, count=3), 8000)
    assert seen == [4, 4, 1]


def test_attenuation_limit_bounds_the_suppression() -> None:
    model = identity_model()
    model.head.bias.data.fill_(-50.0)  # the model wants to remove everything
    noise = (white_noise(8000, np.random.default_rng(0)) * 0.1)[None, None]
    out = Denoiser(model, attenuation_limit_db=12.0).process_segments(noise, 8000)
    assert 20 * np.log10(rms(noise) / rms(out)) == pytest.approx(12.0, abs=0.5)


def test_no_segments_no_work() -> None:
    empty = np.zeros((2, 0, 8000), np.float32)
    assert Denoiser(identity_model()).process_segments(empty, 8000).shape == (2, 0, 8000)


def test_linked_uses_the_mean_of_the_channels() -> None:
    """A linked pair (x, -x) has mean 0: the model sees silence, as it would in a mono mix of the two."""
    model = identity_model()
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(args[0].clone()))
    x = speech_like(1.0)[None]
    Denoiser(model).process_segments(np.stack([x, -x]), 8000, linked=True)
    assert len(seen) == 1
    assert seen[0].shape[0] == 1
    assert float(seen[0].max()) < -13  # log(0 + 1e-6)


def test_the_denoiser_runs_a_folded_copy_and_leaves_the_model_alone() -> None:
    import torch

    from vqdsp.model.config import ModelConfig
    from vqdsp.model.unet import SEUNet

    model = SEUNet(ModelConfig(channels=(4, 8), codebook_size=8)).train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    denoiser = Denoiser(model)
    assert model.training
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert not denoiser.model.training
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in denoiser.model.modules())

    class Unfolded(torch.nn.Module):  # no for_inference(): the denoiser runs it as it is
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.config = model, model.config

        def forward(self, x: torch.Tensor):
            return self.inner(x)

    segments = segments_at(8000, count=2)
    folded = denoiser.process_segments(segments, 8000)
    assert np.max(np.abs(folded - Denoiser(Unfolded()).process_segments(segments, 8000))) < 1e-5


def test_a_compiled_denoiser_gives_the_eager_gain_and_keeps_the_fused_bottleneck() -> None:
    from torch.profiler import profile

    from vqdsp.model.config import ModelConfig
    from vqdsp.model.unet import SEUNet

    model = SEUNet(ModelConfig(channels=(4, 8), codebook_size=8)).eval()
    segments = segments_at(8000, channels=1, count=3)
    eager = Denoiser(model, batch_size=2).process_segments(segments, 8000)
    compiled = Denoiser(model, batch_size=2).compile()
    compiled.process_segments(segments[:, :1], 8000)  # compiles (a batch of one, padded to two)
    with profile() as prof:
        out = compiled.process_segments(segments, 8000)
    assert np.max(np.abs(out - eager)) < 1e-4
    assert any(event.name == "vqdsp::se_nearest_code" for event in prof.events())
