"""Where the time goes: each stage of ``VQDenoise``'s one-shot path, timed alone on the same audio.

For 60 s (``VQDSP_BENCH_SECONDS``; 2 s in quick mode) of 8 kHz mono and 48 kHz stereo speech plus noise, the path of
:class:`~vqdsp.audio.denoiser.Denoiser` is split into the stages below, each timed on inputs the
previous stages made (outside the timing), beside the whole path (``VQDenoise``, one shot): the
reference row, so that ``time / ref`` is each stage's share and ``bench/report.py`` prints the
README's "where the time goes" table.

- framing + STFT: segments cut from the padded signal, the audio-rate STFT and the model-rate
  STFT (and log-magnitude) of each segment;
- resampling + gain mapping: segments resampled to the model's rate; the model's gain mapped
  onto the audio-rate grid;
- model forward: the model on the log-magnitudes, in the denoiser's batches;
- high-band stage: the learned gains from 3.8 kHz up (16 kHz and more; nothing at 8 kHz);
- ISTFT + overlap-add: gain exponentiated and applied, inverse STFT, segments cross-faded into the output.

The path before issue 23 (bench/legacy.py) runs end to end in the same group: its share above 100%
is how many times slower it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from vqdsp.audio.effect import VQDenoise
from vqdsp.audio.framing import flush_padding
from vqdsp.audio.stft import fit_length, resample
from vqdsp.audio.threads import torch_threads

from legacy import LegacyDenoise
from utils import audio_seconds, record, speech_plus_noise

SECONDS = 60.0
QUICK_SECONDS = 2.0
CASES = {"8 kHz mono": (8000, 1), "48 kHz stereo": (48000, 2)}
STAGES = ["framing + STFT", "resampling + gain mapping", "model forward", "high-band stage", "ISTFT + overlap-add"]
END_TO_END = "VQDenoise, one shot (end to end)"
LEGACY = "VQDenoise before issue 23, one shot (end to end)"


@dataclass
class Path:
    """The denoiser's intermediate results for one input, each stage's input."""

    effect: VQDenoise
    audio: np.ndarray  # [channels, samples]
    rate: int
    legacy: VQDenoise  # the path before issue 23
    segments: np.ndarray | None = None  # [C * N, L]
    model_in: np.ndarray | None = None  # [C * N, model segment]
    spec: list | None = None  # audio-rate spectrograms, one per segment (the model-rate batch at the model's rate)
    log_mag: np.ndarray | None = None
    log_gain: np.ndarray | None = None
    mapped: list | np.ndarray | None = None  # the model's log-gain on each audio-rate grid
    final: list | np.ndarray | None = None  # the same after the high-band stage

    @property
    def denoiser(self):
        return self.effect.denoiser_at(self.rate)

    @property
    def transforms(self):
        return self.denoiser.transforms_at(self.rate)

    def framing_and_stft(self) -> None:
        stream_seg, overlap = self.denoiser.segment_length(self.rate)
        hop = stream_seg - overlap
        n = self.audio.shape[1]
        padded = np.concatenate([self.audio, flush_padding(self.audio, stream_seg)], axis=1)
        framed = np.lib.stride_tricks.sliding_window_view(padded, stream_seg, axis=1)[:, ::hop][:, : 1 + n // hop]
        self.segments = np.ascontiguousarray(framed).reshape(-1, stream_seg)
        self.spec = self.transforms.stft(self.segments)
        if self.transforms.at_model_rate:
            self.log_mag = self.transforms.model_log_magnitude(self.spec)
        elif self.model_in is not None:
            self.log_mag = self.transforms.model_input(self.model_in)

    def resampling_and_gain_mapping(self) -> None:
        model = self.denoiser.model_stft
        if self.transforms.at_model_rate:
            self.mapped = None if self.log_gain is None else self.transforms.map_gain(self.log_gain)  # the padded FFT's extra bin
            return
        self.model_in = fit_length(resample(self.segments, self.rate, model.sample_rate), model.segment_samples)
        if self.log_gain is not None:
            self.mapped = self.transforms.map_gain(self.log_gain)

    @torch.inference_mode()
    def model_forward(self) -> None:
        self.log_gain = self.denoiser.log_gains(self.log_mag)

    @torch.inference_mode()
    def high_band_stage(self) -> None:
        stage, transforms = self.denoiser.high_band, self.transforms
        if stage is None or self.rate < stage.config.min_sample_rate or self.mapped is None or transforms.at_model_rate:
            self.final = self.mapped
            return
        floor, batch = self.denoiser.log_gain_floor, 4  # the stream's batches
        final = np.array(self.mapped)
        for k in range(0, len(final), batch):
            stage.set_log_gain(self.spec[k : k + batch], final[k : k + batch], transforms.audio, floor, frames=transforms.stage_frames)
        self.final = final

    def istft_and_overlap_add(self) -> np.ndarray:
        seg, overlap = self.denoiser.segment_length(self.rate)
        out_segments = self.transforms.istft(self.spec * np.exp(self.final), seg)
        stream = self.effect._stream.segments_for(self.rate, self.audio.shape[0], fresh=True)
        channels = self.audio.shape[0]
        out = np.zeros((channels, (len(out_segments) // channels - 1) * stream.hop + seg), np.float32)
        for j, segment in enumerate(out_segments.reshape(channels, -1, seg).swapaxes(0, 1)):
            out[:, j * stream.hop : j * stream.hop + seg] += segment * (stream._weight if j else stream._first_weight)
        return out[:, : self.audio.shape[1]]

    def prepare(self) -> None:
        """Run every stage once, in order, so that each has its inputs."""
        self.framing_and_stft()
        self.resampling_and_gain_mapping()
        self.framing_and_stft()
        self.model_forward()
        self.resampling_and_gain_mapping()
        self.high_band_stage()


@pytest.fixture(scope="module", params=list(CASES))
def path(request: pytest.FixtureRequest) -> tuple[str, Path]:
    rate, channels = CASES[request.param]
    seconds = audio_seconds(SECONDS, QUICK_SECONDS, request.config)
    audio = speech_plus_noise(seconds, rate, channels).reshape(channels, -1)
    state = Path(VQDenoise(partner=None), audio, rate, legacy=LegacyDenoise())  # the one-model path: the partner is timed end to end
    with torch_threads(1):
        state.prepare()
        state.legacy(audio[:, :rate], rate)  # warm-up
    return request.param, state


@pytest.mark.parametrize("stage", [END_TO_END, LEGACY, *STAGES])
def test_stage(benchmark, request: pytest.FixtureRequest, path, stage: str) -> None:
    case, state = path
    seconds = state.audio.shape[1] / state.rate
    benchmark.group = f"stages, {case}, {seconds:g} s"
    record(benchmark, stage, sample_rate=state.rate, channels=state.audio.shape[0], audio_seconds=seconds, reference=END_TO_END)
    fn = {
        END_TO_END: lambda: state.effect(state.audio, state.rate),
        LEGACY: lambda: state.legacy(state.audio, state.rate),
        "framing + STFT": state.framing_and_stft,
        "resampling + gain mapping": state.resampling_and_gain_mapping,
        "model forward": state.model_forward,
        "high-band stage": state.high_band_stage,
        "ISTFT + overlap-add": state.istft_and_overlap_add,
    }[stage]
    def timed() -> object:
        with torch_threads(1):  # as VQDenoise runs (threads=1): one torch thread
            return fn()

    benchmark.pedantic(timed, rounds=3, warmup_rounds=0, iterations=1)
    if stage == "ISTFT + overlap-add":  # the stages, put together, are the path
        assert np.allclose(fn(), state.effect(state.audio, state.rate), atol=1e-4)
