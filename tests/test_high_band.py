from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.effect import VQDenoise
from vqdsp.audio.framing import flush_padding
from vqdsp.audio.stft import stft
from vqdsp.model.checkpoint import load_model
from vqdsp.model.config import StftConfig
from vqdsp.model.high_band import (
    SHIPPED_HIGH_BAND,
    HighBandConfig,
    HighBandError,
    HighBandNet,
    band_layout,
    erb_edges,
    load_high_band,
    save_high_band,
)
from vqdsp.training.data import NoiseMix
from vqdsp.training.high_band import HighBandTrainConfig, train_high_band

from utils import band_energies_db, speech_like, wideband_speech_like

RATES = (16000, 44100, 48000)
FIXTURE = Path(__file__).parent / "fixtures" / "wideband_speech.flac"
"""4 s of real 16 kHz speech (a held-out speaker of the G.722 corpus; see the README's *Data and licences*)."""


def real_speech(rate: int) -> np.ndarray:
    from vqdsp.audio.stft import resample

    audio, source_rate = sf.read(FIXTURE, dtype="float32")
    return resample(audio, source_rate, rate)


def test_erb_edges_span_the_range_and_widen_upwards() -> None:
    edges = erb_edges(4000, 8000, 8)
    assert edges[0] == pytest.approx(4000)
    assert edges[-1] == pytest.approx(8000)
    assert np.all(np.diff(np.diff(edges)) > 0)


@pytest.mark.parametrize("rate", RATES)
def test_the_layout_pools_every_band_and_holds_the_top_band_above_8_khz(rate: int) -> None:
    config = HighBandConfig()
    audio = Denoiser(load_model()).stft_at(rate)
    layout = band_layout(config, audio)
    freqs = np.fft.rfftfreq(audio.nperseg, 1 / rate)
    low_pool, high_pool, spread = (m.numpy() for m in (layout.low_pool, layout.high_pool, layout.spread))
    np.testing.assert_allclose(low_pool.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(high_pool.sum(axis=1), 1, rtol=1e-6)
    assert freqs[layout.split - 1] <= config.split_hz < freqs[layout.split]
    assert config.split_hz == pytest.approx(3800)
    assert not low_pool[:, layout.split :].any()
    assert not high_pool[:, : layout.split].any()
    np.testing.assert_allclose(spread.sum(axis=1), 1, rtol=1e-6)  # each bin: a mix of neighbouring bands
    above_top = freqs[layout.split :] > config.top_hz
    assert np.all(spread[above_top, -1] == 1)


def test_the_stage_needs_16_khz() -> None:
    with pytest.raises(ValueError, match="16000 Hz or more"):
        band_layout(HighBandConfig(), replace(StftConfig(), sample_rate=12000, nperseg=778, noverlap=732))


@pytest.mark.parametrize("rate", RATES)
def test_an_untrained_stage_is_the_old_rule(rate: int) -> None:
    """Its output layer starts at zero: above the split every bin gets the model's 2-4 kHz gain, as before."""
    denoiser = Denoiser(load_model())
    cfg = denoiser.stft_at(rate)
    audio = wideband_speech_like(1.0, rate) + 0.02 * np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    spec = stft(audio, cfg)
    model_gain = np.random.default_rng(1).uniform(-3, 0, (260, 260)).astype(np.float32)
    old = denoiser.map_gain(model_gain, cfg, spec.shape)
    new = HighBandNet().set_log_gain(spec, old.copy(), cfg)
    layout = band_layout(HighBandConfig(), cfg)
    np.testing.assert_array_equal(new[: layout.split], old[: layout.split])  # the model's own gain below the split
    above_nyquist = np.fft.rfftfreq(cfg.nperseg, 1 / rate) > 3992.3
    np.testing.assert_allclose(new[above_nyquist], old[above_nyquist], atol=1e-4)  # its mean over interpolated bins


@pytest.mark.parametrize("rate", RATES)
def test_the_shipped_stage_keeps_the_band_energies_of_clean_wideband_speech(rate: int) -> None:
    clean = real_speech(rate)
    out = VQDenoise(model="default")(clean, rate)
    edges = erb_edges(4000, 8000, HighBandConfig().bands)
    diff = band_energies_db(out, rate, edges) - band_energies_db(clean, rate, edges)
    assert np.abs(diff).max() < 1.0, diff


@pytest.mark.parametrize("rate", RATES)
def test_the_shipped_stage_removes_noise_above_4_khz(rate: int) -> None:
    """White noise alone is strongly attenuated in the learned bands."""
    noise = 0.02 * np.random.default_rng(2).standard_normal(3 * rate).astype(np.float32)
    effect = VQDenoise(model="default")
    edges = np.array([4000.0, 8000.0])
    gain_noise = band_energies_db(effect(noise, rate), rate, edges) - band_energies_db(noise, rate, edges)
    assert gain_noise[0] < -6  # noise alone: strongly attenuated above 4 kHz


@pytest.mark.parametrize("rate", RATES)
def test_silence_stays_silent(rate: int) -> None:
    assert not np.any(VQDenoise(model="default")(np.zeros((2, rate), np.float32), rate))


@pytest.mark.parametrize("rate", RATES)
def test_streaming_equals_one_shot_with_the_stage(rate: int) -> None:
    rng = np.random.default_rng(3)
    speech = real_speech(rate)[: int(2.5 * rate)]
    audio = np.stack([speech, speech[::-1]]) + 0.01 * rng.standard_normal((2, len(speech))).astype(np.float32)
    effect = VQDenoise(model="default")
    assert effect.denoiser_at(rate).high_band is not None
    one_shot = effect(audio, rate)
    latency = effect.latency_at(rate)
    padded = np.concatenate([audio, flush_padding(audio, latency)], axis=1)
    chunks = [effect.process(padded[:, i : i + 7777], rate, reset=False) for i in range(0, padded.shape[1], 7777)]
    streamed = np.concatenate(chunks, axis=1)[:, latency : latency + audio.shape[1]]
    np.testing.assert_allclose(streamed, one_shot, atol=1e-5)


def test_linked_channels_share_the_stages_gain() -> None:
    rate = 48000
    audio = wideband_speech_like(2.0, rate)[None].repeat(2, 0)
    audio[1] *= 0.5
    out = VQDenoise(model="default", channel_mode="linked")(audio, rate)
    np.testing.assert_allclose(out[1], 0.5 * out[0], atol=1e-6)


def test_the_attenuation_limit_holds_above_4_khz() -> None:
    rate = 16000
    noise = 0.05 * np.random.default_rng(4).standard_normal(2 * rate).astype(np.float32)
    out = VQDenoise(model="default", attenuation_limit_db=6.0)(noise, rate)
    edges = np.array([4500.0, 7500.0])
    assert band_energies_db(out, rate, edges)[0] - band_energies_db(noise, rate, edges)[0] > -6.5


def test_without_a_stage_the_model_still_runs_and_8_khz_is_untouched() -> None:
    audio = speech_like(2.0, 8000) + 0.02 * np.random.default_rng(5).standard_normal(16000).astype(np.float32)
    np.testing.assert_array_equal(VQDenoise(model="default")(audio, 8000), VQDenoise(model="default", high_band=None)(audio, 8000))
    wide = wideband_speech_like(1.5, 16000)
    assert np.isfinite(VQDenoise(model="default", high_band=None)(wide, 16000)).all()


def test_a_model_of_another_transform_runs_without_the_default_stage() -> None:
    from utils import identity_model

    model = identity_model()  # a tiny model of the shipped transform gets the stage ...
    assert VQDenoise(model=model).high_band == "default"
    other = identity_model(replace(model.config, stft=replace(model.config.stft, log_floor=1e-5)))
    effect = VQDenoise(model=other)  # ... one of another transform runs without it
    assert effect.denoiser_at(16000).high_band is None


def test_stage_files_round_trip_and_bad_ones_are_named(tmp_path: Path) -> None:
    net = HighBandNet()
    with torch.no_grad():
        net.out.weight.normal_()
    path = save_high_band(net, tmp_path / "stage.safetensors", trained_with="default")
    loaded = load_high_band(path, StftConfig())
    for (name, a), b in zip(net.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(FileNotFoundError, match="high_band=None"):
        load_high_band(tmp_path / "missing.safetensors")
    with pytest.raises(HighBandError, match="trained for a model with transform"):
        load_high_band(path, replace(StftConfig(), nperseg=511))
    with pytest.raises(HighBandError, match="trained for a model with transform"):
        VQDenoise(model=load_model(), high_band=HighBandNet(HighBandConfig(model_stft=replace(StftConfig(), nperseg=511))))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes())
    bad.with_suffix(".json").write_text(json.dumps({**json.loads(path.with_suffix(".json").read_text()), "channels": 16}))
    with pytest.raises(HighBandError, match="does not match its config"):
        load_high_band(bad)
    bad.with_suffix(".json").write_text("{not json")
    with pytest.raises(HighBandError, match="not a valid high-band config"):
        load_high_band(bad)
    bad.with_suffix(".json").write_text("[" * 100_000)  # too large to be a config: refused before parsing
    with pytest.raises(HighBandError, match="too large for a high-band config"):
        load_high_band(bad)
    bad.with_suffix(".json").write_text("[" * 5_000 + "]" * 5_000)
    with pytest.raises(HighBandError, match="nested too deeply"):
        load_high_band(bad)
    bad.with_suffix(".json").unlink()
    with pytest.raises(HighBandError, match="pair"):
        load_high_band(bad)
    model_file = tmp_path / "model.safetensors"
    model_file.write_bytes(b"\x00" * 64)
    model_file.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(HighBandError, match="not a readable safetensors file|not a vqdsp high-band stage"):
        load_high_band(model_file)


def test_the_shipped_stage_loads_offline_and_fits_the_shipped_models() -> None:
    stage = load_high_band()
    assert SHIPPED_HIGH_BAND.is_file()
    assert SHIPPED_HIGH_BAND.with_suffix(".json").is_file()
    for name in ("default", "fast", "v1"):
        assert stage.config.model_stft == load_model(name).config.stft


def test_training_the_stage_lowers_its_loss(tmp_path: Path) -> None:
    rate = 16000
    VQDenoise(model="default")(wideband_speech_like(1.0, rate), rate)  # the cached band layout is first made at inference
    root = tmp_path / "corpus"
    for speaker in ("a", "b", "c"):
        (root / speaker).mkdir(parents=True)
        for i in range(2):
            sf.write(root / speaker / f"{i}.wav", wideband_speech_like(2.0, rate, seed=ord(speaker) + i), rate)
    cfg = HighBandTrainConfig(
        data=[str(root)], out=str(tmp_path / "run"), validation_speakers=["c"], segments=48, val_segments=16,
        steps=60, batch_size=8, lr=5e-3, threads=1,
    )
    path = train_high_band(cfg)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert min(h["val_loss"] for h in history[1:]) < history[0]["val_loss"]  # better than the old rule it starts as
    assert load_high_band(path, StftConfig()).config.model_stft == StftConfig()
    assert (tmp_path / "run" / "loss.png").is_file()
    with pytest.raises(ValueError, match="16000 Hz or more"):
        train_high_band(replace(cfg, sample_rate=8000, out=str(tmp_path / "low")))


def test_the_stage_trains_on_full_band_noise_and_music_with_held_out_files(tmp_path: Path) -> None:
    rate = 32000
    root, noise, music = tmp_path / "corpus", tmp_path / "noise", tmp_path / "music"
    for speaker in ("a", "b"):
        (root / speaker).mkdir(parents=True)
        sf.write(root / speaker / "0.wav", wideband_speech_like(2.0, rate, seed=ord(speaker)), rate)
    rng = np.random.default_rng(0)
    for folder in (noise, music):
        folder.mkdir()
        for name in ("train", "held"):
            sf.write(folder / f"{name}.wav", 0.1 * rng.standard_normal(3 * rate).astype(np.float32), rate)
    cfg = HighBandTrainConfig(
        data=[str(root)], out=str(tmp_path / "run"), validation_speakers=["b"], sample_rate=rate, segments=8, val_segments=4,
        steps=2, batch_size=4, threads=1, noise=NoiseMix(types=("white",)), noise_dirs=[str(noise)], music_dirs=[str(music)],
        validation_noise=[str(noise / "held.wav")], validation_music=[str(music / "held.wav")],
        stage=replace(HighBandConfig(), top_hz=12000.0),
    )
    assert load_high_band(train_high_band(cfg)).config.top_hz == 12000.0
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["validation_noise"] == [str(noise / "held.wav")]
    assert saved["music_dirs"] == [str(music)]


@pytest.mark.parametrize("rate", [44100, 48000])
def test_above_8_khz_the_stage_is_never_more_open_than_the_old_rule(rate: int) -> None:
    """Nothing above 8 kHz is learned (no training speech there): the top band's gain, capped by the old rule's."""
    rng = np.random.default_rng(6)
    speech = real_speech(rate)
    noisy = speech + 0.02 * rng.standard_normal(len(speech)).astype(np.float32)
    cfg = Denoiser(load_model()).stft_at(rate)
    stage, old = (VQDenoise(model="default", high_band=h)(noisy, rate) for h in ("default", None))
    above = np.fft.rfftfreq(cfg.nperseg, 1 / rate) > HighBandConfig().top_hz
    power_stage, power_old = (np.abs(stft(x, cfg)[above]) ** 2 for x in (stage, old))
    assert np.all(power_stage.sum(axis=0) <= power_old.sum(axis=0) * 1.05 + 1e-12)  # per frame, up to the overlap-add's smearing


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"layers": 100000}, r"layers must be a whole number in \[1, 64\], got 100000"),  # C3: sizes are bounded
        ({"channels": 10**6}, r"channels must be a whole number in \[1, 4096\]"),
        ({"kernel": 10**7 + 1}, r"kernel must be a whole number in \[1, 255\]"),
        ({"channels": 4096, "layers": 64}, "more than the 1e.08 a stage may have"),
        ({"crossover": "0.9"}, r"crossover must be a finite number in \[0.5, 1\], got '0.9'"),  # C4: strings are named
        ({"max_attenuation_db": "60"}, "max_attenuation_db must be a finite number"),
        ({"top_hz": float("inf")}, r"top_hz must be a finite number in \(3800, 384000\]"),
        ({"kernel": 4}, "kernel must be odd"),
        ({"model_stft": [8000]}, "model_stft must be an object of STFT settings"),
    ],
)
def test_a_tampered_stage_config_is_refused_with_its_field_named(tmp_path: Path, changes: dict, message: str) -> None:
    path = save_high_band(HighBandNet(), tmp_path / "stage.safetensors")
    cfg = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**cfg, **changes}))
    with pytest.raises(HighBandError, match=message):
        load_high_band(path)


def test_stage_weights_that_are_huge_or_not_float_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = save_high_band(HighBandNet(), tmp_path / "stage.safetensors")
    state = HighBandNet().state_dict()
    metadata = {"format": "vqdsp-high-band/1"}
    save_file({k: v * 1e30 for k, v in state.items()}, str(path), metadata=metadata)  # C5: the file is blamed, not the input
    with pytest.raises(HighBandError, match="holds a weight of magnitude .*the file is broken"):
        load_high_band(path)
    for dtype in (torch.int32, torch.bool):  # C6: not cast silently, as the model loader refuses them
        save_file({k: v.to(dtype) for k, v in state.items()}, str(path), metadata=metadata)
        with pytest.raises(HighBandError, match=r"is stored as (I32|BOOL), expected a float dtype"):
            load_high_band(path)
