from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from vqdsp import VQDenoise
from vqdsp.audio.framing import flush_padding
from vqdsp.model.checkpoint import save_model
from vqdsp.training.noise import mix_at_snr, rms, white_noise

from utils import speech_like, wideband_speech_like


@pytest.fixture(scope="module")
def effect() -> VQDenoise:
    return VQDenoise()


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("shape", ["mono", "channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_shape_dtype_and_length(effect: VQDenoise, sample_rate: int, shape: str, dtype: type) -> None:
    n = int(sample_rate * 1.3)
    mono = speech_like(1.3, sample_rate)[:n]
    audio = {"mono": mono, "channels_first": np.stack([mono, -mono]), "channels_last": np.stack([mono, mono * 0.5], 1)}[shape]
    out = effect(audio.astype(dtype), sample_rate)
    assert out.shape == audio.shape
    assert out.dtype == dtype


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_the_band_above_the_model_is_kept(sample_rate: int) -> None:
    """Clean wide-band speech keeps its energy above the 8 kHz model's 4 kHz within 1 dB (no telephone audio).

    This synthetic signal is the 8 kHz ``default``'s test; ``wideband``, which the rate chooses at these
    rates, takes 7 dB off it above 4 kHz (it keeps real full-band speech: tests/test_full_band.py).
    """
    audio = wideband_speech_like(3.0, sample_rate)

    def high_band_db(x: np.ndarray) -> float:
        freqs, power = scipy.signal.welch(x, sample_rate, nperseg=2048)
        return 10 * np.log10(power[freqs > 4000].sum())

    out = VQDenoise(model="default")(audio, sample_rate)
    assert abs(high_band_db(out) - high_band_db(audio)) < 1.0


def test_reduces_white_noise(effect: VQDenoise) -> None:
    clean = speech_like(3.0, 16000)
    noisy = mix_at_snr(clean, white_noise(len(clean), np.random.default_rng(0)), 5.0)
    out = effect(noisy, 16000)
    assert rms(out - clean) < rms(noisy - clean)


@pytest.mark.parametrize(("sample_rate", "buffer_size"), [(8000, 1), (8000, 4096), (16000, 1000), (44100, 8192), (48000, 12345)])
def test_streaming_equals_one_shot_after_the_latency(sample_rate: int, buffer_size: int) -> None:
    effect = VQDenoise()
    audio = np.stack([speech_like(2.2, sample_rate), speech_like(2.2, sample_rate, seed=1)])
    whole = effect(audio, sample_rate)
    effect.reset()
    latency = effect.latency_at(sample_rate)
    padded = np.concatenate([audio, flush_padding(audio, latency)], axis=1)
    chunk = 2 * buffer_size + 7 if buffer_size > 1 else 2001
    parts = [effect(padded[:, i : i + chunk], sample_rate, buffer_size=buffer_size, reset=False) for i in range(0, padded.shape[1], chunk)]
    streamed = np.concatenate(parts, axis=1)
    assert latency == sample_rate  # one model segment (1 s)
    assert np.all(streamed[:, :latency] == 0)
    assert np.allclose(streamed[:, latency : latency + audio.shape[1]], whole, atol=1e-5)


def test_latency_does_not_depend_on_the_last_rate_seen() -> None:
    effect = VQDenoise()
    assert effect.latency_samples == 8000
    assert effect.latency_at(48000) == 48000
    assert effect.latency_at(44100.0) == 44100
    effect(np.zeros(100, np.float32), 48000, reset=False)
    assert effect.latency_samples == 8000


def test_attenuation_limit_keeps_a_noise_floor() -> None:
    noise = white_noise(16000, np.random.default_rng(2)) * 0.05
    deep = VQDenoise()(noise, 8000)
    limited = VQDenoise(attenuation_limit_db=6.0)(noise, 8000)
    assert rms(limited) >= rms(noise) * 10 ** (-6.0 / 20) * 0.95
    assert rms(limited) > rms(deep)


def test_mix_zero_is_the_dry_signal() -> None:
    audio = speech_like(1.5) + 0.05 * white_noise(12000, np.random.default_rng(3))
    assert np.allclose(VQDenoise(mix=0.0)(audio, 8000), audio, atol=1e-4)
    half = VQDenoise(mix=0.5)(audio, 8000)
    wet = VQDenoise()(audio, 8000)
    assert np.allclose(half, 0.5 * audio + 0.5 * wet, atol=1e-4)


def test_silence_stays_silent_and_loud_input_is_not_clipped(effect: VQDenoise) -> None:
    assert np.all(effect(np.zeros(9000, np.float32), 8000) == 0)
    loud = 5.0 * speech_like(1.0)  # peaks at 1.5
    assert np.abs(effect(loud, 8000)).max() > 1.0


def test_dc_offset_is_defined(effect: VQDenoise) -> None:
    out = effect(np.full(8000, 0.5, np.float32), 8000)
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() <= 0.5 + 1e-3


def test_empty_input_gives_empty_output(effect: VQDenoise) -> None:
    assert effect(np.zeros((2, 0), np.float32), 8000).shape == (2, 0)


@pytest.mark.parametrize(
    ("audio", "error", "match"),
    [
        (np.array([0.1, np.nan] * 100, np.float32), ValueError, "NaN"),
        (np.array([0.1, np.inf] * 100, np.float32), ValueError, "Inf"),
        (np.zeros(1000, np.int16), TypeError, "int16"),
        (np.zeros((2, 3, 100), np.float32), ValueError, "dimensions"),
        (np.zeros((4, 4), np.float32), ValueError, "square"),
        (np.full(9000, 1e300), ValueError, "float32's range"),
    ],
)
def test_bad_input_is_named(effect: VQDenoise, audio: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        effect(audio, 8000)


def test_output_that_overflows_float32_is_named() -> None:
    # v1 lets part of a near-full-range DC through and its overlap-add goes past float32's range
    # (the default model attenuates this input: its output stays finite)
    with pytest.raises(ValueError, match="overflowed"):
        VQDenoise(model="v1")(np.full(9000, 1e38, np.float32), 8000)


def test_parameters_are_validated_attributes() -> None:
    effect = VQDenoise(attenuation_limit_db=20, mix=0.8)
    assert effect.parameters["attenuation_limit_db"] == 20
    assert effect.mix == 0.8
    with pytest.raises(ValueError, match="mix"):
        effect.mix = 1.5
    with pytest.raises(ValueError, match="attenuation_limit_db"):
        effect.attenuation_limit_db = -3
    with pytest.raises(TypeError):
        effect.parameters["mix"] = 0.1  # read-only: set the attribute instead
    with pytest.raises(ValueError, match="CUDA"):
        VQDenoise(device="cuda") if not __import__("torch").cuda.is_available() else (_ for _ in ()).throw(ValueError("CUDA"))
    assert "mix=0.8" in repr(effect)
    assert "attenuation_limit_db=20.0" in repr(effect)
    assert effect.is_effect
    assert not effect.is_instrument


def test_reset_keeps_parameters() -> None:
    effect = VQDenoise(attenuation_limit_db=12, mix=0.7)
    effect(np.zeros(100, np.float32), 8000, reset=False)
    effect.reset()
    assert (effect.attenuation_limit_db, effect.mix) == (12, 0.7)


def test_another_checkpoint(tmp_path) -> None:
    from utils import identity_model

    path = save_model(identity_model(), tmp_path / "identity.safetensors")
    effect = VQDenoise(model=path)
    audio = speech_like(1.0)
    assert np.allclose(effect(audio, 8000), audio, atol=1e-4)
    assert effect.model == str(path)
    with pytest.raises(FileNotFoundError):
        VQDenoise(model=tmp_path / "missing.safetensors")


def test_changing_rate_mid_stream_is_an_error() -> None:
    effect = VQDenoise()
    effect(np.zeros(100, np.float32), 8000, reset=False)
    with pytest.raises(ValueError, match="mid-stream"):
        effect(np.zeros(100, np.float32), 16000, reset=False)
    assert math.isinf(effect.attenuation_limit_db)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sample_rate": 0}, ValueError, "sample_rate must be between 1000 and 384000 Hz"),
        ({"sample_rate": 7}, ValueError, "sample_rate must be between"),
        ({"sample_rate": 2e7}, ValueError, "sample_rate must be between"),
        ({"sample_rate": math.inf}, ValueError, "sample_rate must be between"),
        ({"sample_rate": math.nan}, ValueError, "sample_rate must be a number"),
        ({"sample_rate": "8000"}, TypeError, "sample_rate must be a number"),
        ({"buffer_size": 2.5}, ValueError, "buffer_size must be a whole number"),
        ({"buffer_size": 0}, ValueError, "buffer_size must be a whole number"),
    ],
)
def test_process_arguments_are_checked_up_front(effect: VQDenoise, kwargs: dict, error: type, match: str) -> None:
    call = {"input_array": np.zeros(100, np.float32), "sample_rate": 8000, **kwargs}
    with pytest.raises(error, match=match):
        effect.process(**call)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"device": "meta"}, ValueError, "device must be 'cpu' or 'cuda"),
        ({"device": "gpu0"}, ValueError, "device must be 'cpu' or 'cuda"),
        ({"threads": 0}, ValueError, "threads must be >= 1"),
        ({"threads": -2}, ValueError, "threads must be >= 1"),
        ({"threads": 1.5}, TypeError, "threads must be a whole number"),
        ({"threads": True}, TypeError, "threads must be a whole number"),
        ({"channel_mode": "mid-side"}, ValueError, "channel_mode must be one of 'independent', 'linked'"),
        ({"channels": 0}, ValueError, "channels must be None or a whole number"),
        ({"mix": "half"}, TypeError, "mix must be a number"),
        ({"attenuation_limit_db": 1e300}, ValueError, r"attenuation_limit_db must be in \(0, 200\] dB, or math.inf"),  # E4
        ({"model": 42}, TypeError, "model must be a shipped model's name .* got 42"),  # E5
        ({"model": b"default"}, TypeError, "model must be a shipped model's name .* got b'default'"),
        ({"model": ""}, ValueError, "model must name a shipped model"),
        ({"high_band": ""}, ValueError, "high_band must be 'default', a .safetensors file or None"),
        ({"high_band": 42}, TypeError, "high_band must be 'default', .* got 42"),
    ],
)
def test_constructor_arguments_are_checked(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        VQDenoise(**kwargs)


def test_short_input_warns_and_is_processed(effect: VQDenoise) -> None:
    short = speech_like(0.01)
    with pytest.warns(UserWarning, match="shorter than the denoiser's analysis window") as caught:
        out = effect(short, 8000)
    assert caught[0].filename == __file__  # it points at the caller's line
    assert out.shape == short.shape
    assert np.all(np.isfinite(out))
    assert effect.shortest_input_at(8000) == 519
    assert effect.shortest_input_at(48000) == 3114  # wideband's 32 ms window, its partner's 65 ms
    assert VQDenoise(partner=None).shortest_input_at(48000) == 1557  # the wideband model's 32 ms alone
    assert VQDenoise(model="default").shortest_input_at(48000) == 3114  # the 8 kHz model's 65 ms


def test_threads_give_the_same_output() -> None:
    audio = np.stack([speech_like(2.5, 16000), speech_like(2.5, 16000, seed=1)])
    assert np.allclose(VQDenoise(threads=2)(audio, 16000), VQDenoise()(audio, 16000), atol=1e-6)


@pytest.mark.parametrize("sample_rate", [8000, 44100])
def test_linked_channels_get_one_gain(sample_rate: int) -> None:
    """Linked: the gain comes from the channels' mean and is the same on each (a scaled copy stays a scaled copy)."""
    left = speech_like(2.5, sample_rate) + 0.02 * white_noise(int(2.5 * sample_rate), np.random.default_rng(4))
    audio = np.stack([left, 0.5 * left])
    linked = VQDenoise(channel_mode="linked", threads=2)(audio, sample_rate)
    assert np.allclose(linked[1], 0.5 * linked[0], atol=1e-6)
    mean_alone = VQDenoise()(0.75 * left, sample_rate)  # the mean's gain is the gain every channel gets
    assert np.allclose(linked[0], mean_alone / 0.75, atol=1e-4)


def test_picklable_in_any_state() -> None:
    import pickle

    audio = np.stack([speech_like(3.0), speech_like(3.0, seed=1)])
    effect = VQDenoise(threads=2, mix=0.9)
    fresh = pickle.loads(pickle.dumps(effect))
    assert fresh.threads == 2
    assert fresh.mix == 0.9
    effect(audio, 8000)
    effect(audio[:, :10000], 8000, reset=False)  # mid-stream, with a thread pool
    copy = pickle.loads(pickle.dumps(effect))
    assert np.array_equal(copy(audio[:, 10000:], 8000, reset=False), effect(audio[:, 10000:], 8000, reset=False))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_fork_after_the_model_loaded_fails_with_advice() -> None:
    import os

    effect = VQDenoise()  # made, not yet run: a fork already inherits torch's state
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what process() did, never run pytest's teardown
        try:
            effect(speech_like(1.0), 8000)
            message = "no error"
        except RuntimeError as err:
            message = str(err)
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    message = os.read(read, 4096).decode()
    os.waitpid(pid, 0)
    assert "spawn" in message
    assert "forkserver" in message


def test_the_fast_shipped_model_by_name() -> None:
    fx = VQDenoise(model="fast")
    assert fx.model == "fast"
    noisy = mix_at_snr(speech_like(1.5), white_noise(12000, np.random.default_rng(0)), 5.0)
    out = fx(noisy, 8000)
    assert out.shape == noisy.shape
    assert rms(out - noisy) > 0.1 * rms(noisy)


def test_one_instance_is_one_stream_a_second_thread_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """E6: a call from another thread while one runs raises, saying to use an instance per thread; the first call is unharmed."""
    import threading

    effect = VQDenoise()
    audio = speech_like(1.0)
    expected = effect(audio, 8000)
    inside, release = threading.Event(), threading.Event()
    denoiser_at = VQDenoise.denoiser_at

    def held(self: VQDenoise, rate: int):
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            release.wait()
        return denoiser_at(self, rate)

    monkeypatch.setattr(VQDenoise, "denoiser_at", held)
    result: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: result.append(effect(audio, 8000)))
    worker.start()
    inside.wait()
    try:
        with pytest.raises(RuntimeError, match="an instance is one stream.*its own instance"):
            effect(audio, 8000)
    finally:
        release.set()
        worker.join()
    np.testing.assert_array_equal(result[0], expected)
    np.testing.assert_array_equal(effect(audio, 8000), expected)  # free again once the other call is done


def test_nan_output_from_in_range_input_blames_the_model() -> None:
    """C5's other half: an in-range input whose output is NaN is the model's fault, not the input's."""
    from utils import TINY, identity_model

    model = identity_model(TINY)
    with __import__("torch").no_grad():
        model.head.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match="although the input peaks at 0.3.*broken"):
        VQDenoise(model=model, high_band=None)(speech_like(1.0), 8000)
