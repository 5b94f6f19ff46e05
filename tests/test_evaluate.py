from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from vqdsp.cli import main
from vqdsp.evaluation import metrics
from vqdsp.evaluation.evaluate import CONDITION_NOTES, NoiseRecipe, channel_sos, evaluate, make_condition, select_files, spectrogram_figure
from vqdsp.evaluation.systems import Passthrough, build_systems
from vqdsp.model.checkpoint import save_model
from vqdsp.training.augment import apply_sos

from utils import identity_model, speech_like, wideband_speech_like


def _write(folder: Path, name: str, audio: np.ndarray, rate: int = 8000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / name, audio, rate)
    return folder / name


@pytest.fixture
def clean_dir(tmp_path: Path) -> Path:
    for seed in range(3):
        _write(tmp_path / "clean" / "spk", f"utt{seed}.wav", speech_like(1.5, 8000, seed))
    return tmp_path / "clean"


@pytest.fixture
def babble_dir(tmp_path: Path) -> Path:
    for seed in range(10, 13):
        _write(tmp_path / "babble" / "other", f"b{seed}.wav", speech_like(2.0, 8000, seed))
    return tmp_path / "babble"


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return save_model(identity_model(), tmp_path / "tiny.safetensors")


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_select_files_spreads_over_the_list() -> None:
    files = [Path(f"{c}{i}") for c in "ab" for i in range(10)]
    picked = select_files(files, 4)
    assert len(picked) == 4
    assert picked[0] == files[0]
    assert picked[-1] == files[-1]
    assert select_files(files, None) == files
    with pytest.raises(ValueError, match="at least 1"):
        select_files(files, 0)


def test_cli_end_to_end(clean_dir: Path, babble_dir: Path, tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    argv = ["eval", str(clean_dir), "-o", str(out), "--noise", "white", "babble", "--snr-db", "0", "10",
            "--babble-dir", str(babble_dir), "--systems", "noisy", "model", "--model", str(tiny_model),
            "--limit", "2", "--examples", "2", "-q"]  # fmt: skip
    assert main(argv) == 0
    rows = _rows(out / "per_file.csv")
    assert len(rows) == 2 * 4 * 2  # files x conditions x systems
    assert {r["file"] for r in rows} == {"clean/spk/utt0.wav", "clean/spk/utt2.wav"}
    by = {(r["file"], r["noise"], r["snr_db"], r["system"]): float(r["pesq"]) for r in rows}
    for (f, kind, snr, system), value in by.items():  # the identity model gives back the noisy input
        if system == "vqdsp:tiny":
            assert value == pytest.approx(by[f, kind, snr, "noisy"], abs=0.05)
    summary = _rows(out / "summary.csv")
    assert len(summary) == (4 + 1) * 2 * 4  # (conditions + all) x systems x metrics
    assert all(r["visqol"] == r["lsd_above_8k"] == r["residual_above_8k"] == "nan" for r in rows)  # no band for them at 8 kHz
    md = (out / "summary.md").read_text()
    assert "ViSQOL" not in md
    assert "| metric | noisy | vqdsp:tiny |" in md
    assert "| babble | 10 |" in md
    assert "PESQ-nb" in md
    assert (out / "spectrograms.png").is_file()
    examples = sorted(p.name for p in (out / "examples").iterdir())
    assert examples == ["00_utt0_white_0dB", "01_utt2_babble_10dB"]  # spread over conditions
    assert sorted(p.name for p in (out / "examples" / examples[0]).iterdir()) == [
        "clean.wav", "noisy.wav", "spectrograms.png", "vqdsp_tiny.wav"]  # fmt: skip
    # the same seed gives the same noise
    assert main([*argv, "-o", str(tmp_path / "again")]) == 0
    assert _rows(tmp_path / "again" / "per_file.csv") == rows


def test_all_default_systems_on_one_file(clean_dir: Path, tmp_path: Path) -> None:
    systems, notes = build_systems()
    assert notes == []
    result = evaluate([clean_dir], tmp_path / "out", systems, recipe=NoiseRecipe(("white",), (5.0,)), limit=1, examples=1, progress=False)
    assert result.files == 1
    means = {e["system"]: e["mean"] for e in result.summary if e["metric"] == "nsr" and e["noise"] == "all"}
    assert list(means) == ["noisy", "vqdsp", "noisereduce", "rnnoise", "deepfilternet3", "gtcrn"]
    assert means["noisy"] == pytest.approx(-5.0, abs=1e-3)
    assert all(np.isfinite(list(means.values())))


def test_paired_noisy_files_and_skipped_clips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean, noisy = tmp_path / "clean", tmp_path / "noisy"
    rng = np.random.default_rng(0)
    for seed, seconds in enumerate([1.5, 1.5, 0.2]):  # the last one is too short for PESQ and STOI
        x = speech_like(seconds, 8000, seed)
        _write(clean, f"u{seed}.wav", x)
        _write(noisy / "sub", f"u{seed}.wav", x + 0.02 * rng.standard_normal(len(x)).astype(np.float32))
    import pesq

    real = pesq.pesq
    calls = []

    def flaky(*args: object) -> float:  # PESQ's own "no utterances" on the first clip
        calls.append(1)
        if len(calls) == 1:
            raise pesq.NoUtterancesError(b"No utterances detected")
        return real(*args)

    monkeypatch.setattr(pesq, "pesq", flaky)
    result = evaluate([clean], tmp_path / "out", [Passthrough()], noisy=noisy, progress=False, examples=0)
    pesq_all = next(e for e in result.summary if e["metric"] == "pesq" and e["noise"] == "all")
    assert (pesq_all["n"], pesq_all["skipped"]) == (1, 2)
    assert "| paired |  | " in result.markdown
    assert "(2 skipped)" in result.markdown
    assert any("1 score(s) NaN: PESQ found no utterance" in n for n in result.notes)
    assert not (tmp_path / "out" / "examples").exists()


def test_spectrogram_figure_panels(tmp_path: Path) -> None:
    x = speech_like(1.0, 16000)
    fig = spectrogram_figure(x, x + 0.01, {"noisy": x, "vqdsp": x, "rnnoise": 0.5 * x}, 16000, "example")
    assert [ax.get_title() for ax in fig.axes] == ["clean", "noisy", "vqdsp", "rnnoise"]
    assert fig.axes[0].get_ylim()[1] == pytest.approx(8.0)
    fig.savefig(tmp_path / "f.png")
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(tmp_path / "f.png").shape
    assert width > 3 * height


def test_recorded_noise_needs_its_recordings(clean_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--noise-dir"):
        evaluate([clean_dir], tmp_path / "out", [Passthrough()], recipe=NoiseRecipe(("recorded",), (5.0,)))


def test_cli_bad_inputs(clean_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    base = ["eval", str(clean_dir), "-o", str(out), "--systems", "noisy", "--noise", "white", "--snr-db", "5", "-q"]
    single = tmp_path / "single"
    _write(single, "one.wav", speech_like(1.5, 8000))
    assert main(["eval", str(single), "-o", str(out), "--systems", "noisy", "-q"]) == 1
    assert "pass --babble-dir DIR" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nowhere"), "-o", str(out), "-q"]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["eval", str(tmp_path / "empty"), *base[2:]]) == 1
    assert "no audio files" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main([*base, "--limit", "0"])
    assert "argument --limit: must be a whole number >= 1, got '0'" in capsys.readouterr().err
    assert main([*base, "--model", str(tmp_path / "missing.safetensors"), "--systems", "model"]) == 1
    assert main(base) == 0
    capsys.readouterr()
    assert main(base) == 1
    assert "--force" in capsys.readouterr().err
    assert main([*base, "--force"]) == 0
    with pytest.raises(ValueError, match="not both"):
        evaluate([clean_dir], out, [Passthrough()], noisy=clean_dir, recipe=NoiseRecipe())
    with pytest.raises(ValueError, match="noise types"):
        NoiseRecipe(("thunder",))


def measured_snr(reference: np.ndarray, mixture: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(reference.astype(np.float64) ** 2) / np.mean((mixture - reference).astype(np.float64) ** 2)))


@pytest.mark.parametrize("kind", ["music", "recorded", "clicks", "keyboard", "modulated", "fan"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0])
def test_noise_conditions_keep_the_clean_reference(kind: str, snr_db: float) -> None:
    clean = speech_like(1.0)
    recorded = [np.random.default_rng(6).standard_normal(20000).astype(np.float32) * np.linspace(0, 1, 20000, dtype=np.float32)]
    ref, mixture = make_condition(kind, clean, snr_db, np.random.default_rng(0), 8000, music=[speech_like(3.0, seed=5)], recordings=recorded)
    assert np.array_equal(ref, clean)
    assert mixture.shape == clean.shape
    assert mixture.dtype == np.float32
    assert measured_snr(ref, mixture) == pytest.approx(snr_db, abs=0.1)


@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_reverb_condition_scores_against_the_reverberant_speech(sample_rate: int) -> None:
    clean = speech_like(1.5, sample_rate)
    ref, mixture = make_condition("reverb", clean, 5.0, np.random.default_rng(0), sample_rate, room_rng=np.random.default_rng(1))
    assert measured_snr(ref, mixture) == pytest.approx(5.0, abs=0.01)  # the noise is all that separates them
    assert np.sqrt(np.mean(ref**2)) == pytest.approx(np.sqrt(np.mean(clean**2)), rel=1e-3)
    gaps = clean == 0  # the syllables' pauses: silent in the clean speech, filled by the room's tail
    assert gaps.mean() > 0.3
    assert 10 * np.log10(np.sum(ref[gaps] ** 2) / np.sum(ref**2)) > -20
    other_room, other_mixture = make_condition("reverb", clean, 5.0, np.random.default_rng(0), sample_rate, room_rng=np.random.default_rng(2))
    assert not np.allclose(ref, other_room, atol=1e-3)
    assert np.allclose(mixture - ref, other_mixture - other_room, atol=1e-5)  # same noise: rooms come from their own stream


@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_channel_condition_scores_against_the_speech_through_the_line(sample_rate: int) -> None:
    clean = speech_like(1.5, sample_rate)
    line = channel_sos(sample_rate)
    beyond = min(5000.0, sample_rate / 2 - 100)
    _, gain = scipy.signal.sosfreqz(line, [100.0, 1000.0, 3200.0, beyond], fs=sample_rate)
    gain_db = 20 * np.log10(np.abs(gain))
    assert gain_db[0] < -20
    assert abs(gain_db[1]) < 3
    assert gain_db[2] > 0
    assert gain_db[3] < -10  # tilt and band
    for snr_db in (0.0, 5.0, 10.0):
        ref, mixture = make_condition("channel", clean, snr_db, np.random.default_rng(0), sample_rate)
        assert ref.shape == mixture.shape == clean.shape
        assert measured_snr(ref, mixture) == pytest.approx(snr_db, abs=1.5)  # set before the codec, which adds its own error
    through_line = apply_sos(clean, line)
    assert 0.9 < np.corrcoef(ref, through_line)[0, 1] < 0.9999  # the line, then GSM 6.10
    spectrum, freqs = np.abs(np.fft.rfft(clean)) ** 2, np.fft.rfftfreq(len(clean), 1 / sample_rate)
    ref_spectrum = np.abs(np.fft.rfft(ref)) ** 2
    low_share = 10 * np.log10(ref_spectrum[freqs < 250].sum() / ref_spectrum.sum()) - 10 * np.log10(spectrum[freqs < 250].sum() / spectrum.sum())
    assert low_share < -10  # the fundamental is cut, as on a phone line


def test_out_of_domain_conditions_end_to_end(clean_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    music = _write(tmp_path / "music", "track.wav", speech_like(4.0, 8000, 20))
    out = tmp_path / "ood"
    argv = ["eval", str(clean_dir), "-o", str(out), "--noise", "reverb", "channel", "music", "keyboard", "--snr-db", "5",
            "--systems", "noisy", "--limit", "1", "--examples", "1", "-q"]  # fmt: skip
    assert main(argv) == 1
    assert "music noise needs music recordings" in capsys.readouterr().err
    assert main([*argv, "--music-dir", str(music.parent)]) == 0
    nsr = {r["noise"]: float(r["mean"]) for r in _rows(out / "summary.csv") if r["metric"] == "nsr"}
    assert nsr["reverb"] == pytest.approx(-5.0, abs=0.01)  # measured against the reverberant speech
    assert nsr["music"] == pytest.approx(-5.0, abs=0.01)
    assert nsr["keyboard"] == pytest.approx(-5.0, abs=0.01)
    assert nsr["channel"] == pytest.approx(-5.0, abs=1.5)
    md = (out / "summary.md").read_text()
    assert "| reverb | 5 |" in md
    assert "| channel | 5 |" in md
    assert CONDITION_NOTES["reverb"] in md
    assert CONDITION_NOTES["channel"] in md
    with pytest.raises(ValueError, match="reverb, channel"):
        NoiseRecipe(("room",))


class _Halve:
    name = "halve"

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return 0.5 * audio


@pytest.mark.parametrize("sample_rate", [24000, 48000])
def test_full_band_metrics_where_the_rate_has_them(sample_rate: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = tmp_path / "clean"
    _write(clean, "wide.wav", wideband_speech_like(1.5, 48000), 48000)
    if sample_rate < metrics.VISQOL_MIN_RATE:
        def no_visqol(*args: object, **kwargs: object) -> float:
            raise AssertionError("ViSQOL scored below 32 kHz")

        monkeypatch.setattr(metrics, "visqol", no_visqol)
    result = evaluate([clean], tmp_path / "out", [Passthrough(), _Halve()], recipe=NoiseRecipe(("white",), (10.0,)), sample_rate=sample_rate,
                      examples=0, progress=False)
    scored = metrics.metrics_for_rate(sample_rate)
    assert list(dict.fromkeys(e["metric"] for e in result.summary)) == list(scored)
    mean = {(e["system"], e["metric"]): e["mean"] for e in result.summary if e["noise"] == "all"}
    assert mean["noisy", "residual_above_8k"] > mean["noisy", "nsr"]  # white noise swamps the weak band above 8 kHz
    assert mean["noisy", "lsd_above_8k"] > 5
    assert "| LSD > 8 kHz (dB) ↓ |" in result.markdown
    assert "| residual > 8 kHz (dB) ↓ |" in result.markdown
    rows = _rows(tmp_path / "out" / "per_file.csv")
    assert [k for k in rows[0] if k not in ("file", "noise", "snr_db", "system")] == list(metrics.METRICS)
    if sample_rate >= metrics.VISQOL_MIN_RATE:
        assert "| ViSQOL ↑ |" in result.markdown
        assert mean["halve", "visqol"] == pytest.approx(mean["noisy", "visqol"], abs=1e-6)  # ViSQOL ignores the gain
        assert 1 < mean["noisy", "visqol"] < 4.5
    else:
        assert "ViSQOL" not in result.markdown
        assert all(r["visqol"] == "nan" for r in rows)


def test_nothing_scored_is_an_error_not_an_empty_report(clean_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """T2: every file skipped (no noisy partners, unreadable, too short) exits 1 naming why, and writes no report."""
    base = ["--systems", "noisy", "--noise", "white", "--snr-db", "5", "-q"]
    (tmp_path / "empty").mkdir()
    assert main(["eval", str(clean_dir), "-o", str(tmp_path / "a"), "--noisy", str(tmp_path / "empty"), *base]) == 1
    assert "no file could be scored (3 tried, 3 skipped, the first: skipped" in capsys.readouterr().err
    assert not (tmp_path / "a" / "summary.md").exists()
    _write(tmp_path / "bad", "x.wav", speech_like(1.0, 8000)).write_bytes(b"RIFF not audio")
    assert main(["eval", str(tmp_path / "bad"), "-o", str(tmp_path / "b"), *base]) == 1
    assert "cannot read audio file" in capsys.readouterr().err


def test_files_too_short_to_score_are_skipped_with_a_note(clean_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """T3: a 12 ms file is skipped and named, not "axis 1 is out of bounds"."""
    _write(clean_dir / "spk", "tiny.wav", speech_like(0.012, 8000))
    assert main(["eval", str(clean_dir), "-o", str(tmp_path / "out"), "--systems", "noisy", "--noise", "white", "--snr-db", "5", "-q"]) == 0
    assert "tiny.wav: 12 ms, shorter than the 0.05 s the scores need" in (tmp_path / "out" / "summary.md").read_text()


def test_the_defaults_run_on_a_folder_of_clean_speech(tmp_path: Path) -> None:
    """``vqdsp eval DIR -o OUT`` with no other flag: babble comes from the set's other speakers."""
    clean = tmp_path / "clean"
    for speaker in ("a", "b"):
        for seed in range(2):
            _write(clean / speaker, f"{speaker}{seed}.wav", speech_like(1.5, 8000, seed + (10 if speaker == "b" else 0)))
    out = tmp_path / "out"
    assert main(["eval", str(clean), "-o", str(out), "--systems", "noisy", "-q"]) == 0
    md = (out / "summary.md").read_text()
    assert "| babble |" in md
    assert "talkers drawn from the clean set itself" in md
    rows = _rows(out / "per_file.csv")
    assert {r["noise"] for r in rows} == {"white", "pink", "babble"}
    assert all(r["pesq"] not in ("", "nan") for r in rows if r["noise"] == "babble")


def test_own_babble_is_of_other_speakers_where_there_are_folders(tmp_path: Path) -> None:
    from vqdsp.evaluation.evaluate import _other_talkers

    own = {Path("a/1.wav"): np.zeros(1), Path("a/2.wav"): np.ones(1), Path("b/1.wav"): np.full(1, 2.0)}
    assert [float(t[0]) for t in _other_talkers(own, Path("a/1.wav"))] == [2.0]
    assert [float(t[0]) for t in _other_talkers({k: v for k, v in own.items() if k.parent.name == "a"}, Path("a/1.wav"))] == [1.0]
