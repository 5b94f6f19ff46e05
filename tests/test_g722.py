from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from vqdsp.extras import MissingExtraError
from vqdsp.training import g722

from utils import speech_like

G722 = pytest.importorskip("G722")
DELAY = 22  # samples at 16 kHz: the codec's QMF analysis + synthesis


def _encode(audio: np.ndarray) -> bytes:
    """float32 [n] at 16 kHz -> raw 64 kbit/s G.722 bytes, by the same package's encoder."""
    pcm = np.round(np.clip(audio, -1, 1 - 2**-15) * 32768).astype(np.int16)
    return bytes(G722.G722(16000, 64000).encode(pcm))


def _write(path: Path, audio: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_encode(audio))
    return path


def _snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2)))


def test_decode_round_trip(tmp_path: Path) -> None:
    clean = speech_like(1.0, 16000)
    audio, rate = g722.decode(_write(tmp_path / "a.g722", clean))
    assert rate == 16000
    assert audio.dtype == np.float32
    assert audio.shape == clean.shape  # two samples per byte at 64 kbit/s
    assert _snr_db(clean[: len(clean) - DELAY], audio[DELAY:]) > 20
    lag = np.argmax(scipy.signal.correlate(audio, clean)) - (len(clean) - 1)
    assert lag == DELAY


def test_decode_keeps_the_band_above_4_khz(tmp_path: Path) -> None:
    tone = (0.3 * np.sin(2 * np.pi * 6000 * np.arange(16000) / 16000)).astype(np.float32)
    audio, _ = g722.decode(_write(tmp_path / "hi.g722", tone))
    f, power = scipy.signal.welch(audio, 16000, nperseg=512)
    assert f[np.argmax(power)] == pytest.approx(6000, abs=40)
    assert np.sqrt(np.mean(audio[DELAY:] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)


def test_truncated_file_decodes_to_its_own_length(tmp_path: Path) -> None:
    """Raw G.722 has no framing: any cut is a valid stream, two samples per byte kept."""
    data = _encode(speech_like(0.5, 16000))
    (tmp_path / "cut.g722").write_bytes(data[:1001])
    audio, _ = g722.decode(tmp_path / "cut.g722")
    assert len(audio) == 2002


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV"),
        (b"OggS\x00\x02" + bytes(20), "Ogg"),
        (b"<html><body>404 Not Found</body></html>\n", "text"),
    ],
)
def test_not_g722_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.g722"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        g722.decode(path)
    assert str(path) in str(err.value)


def test_missing_package_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "a.g722", speech_like(0.1, 16000))
    monkeypatch.setitem(sys.modules, "G722", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'vqdsp\[train\]'"):
        g722.decode(path)


def _tree(root: Path) -> list[Path]:
    return [
        _write(root / "usr" / "share" / "sounds" / "en" / "hello.g722", speech_like(0.4, 16000, seed=1)),
        _write(root / "usr" / "share" / "sounds" / "en" / "digits" / "1.g722", speech_like(0.3, 16000, seed=2)),
    ]


def test_convert_tree_writes_flat_16_bit_wavs(tmp_path: Path) -> None:
    inputs = _tree(tmp_path / "src")
    done = g722.convert_tree(tmp_path / "src", tmp_path / "out", progress=False)
    assert done == g722.Converted(decoded=2, skipped=0)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["usr__share__sounds__en__digits__1.wav", "usr__share__sounds__en__hello.wav"]
    info = sf.info(tmp_path / "out" / "usr__share__sounds__en__hello.wav")
    assert (info.samplerate, info.subtype, info.frames) == (16000, "PCM_16", 2 * inputs[0].stat().st_size)
    written, _ = sf.read(tmp_path / "out" / "usr__share__sounds__en__hello.wav", dtype="float32")
    np.testing.assert_array_equal(written, g722.decode(inputs[0])[0])  # bit-exact: int16 as decoded


def test_convert_tree_skips_done_files_and_never_touches_inputs(tmp_path: Path) -> None:
    inputs = _tree(tmp_path / "src")
    before = {p: p.read_bytes() for p in inputs}
    assert g722.convert_tree(tmp_path / "src", tmp_path / "out", progress=False).decoded == 2
    kept = tmp_path / "out" / "usr__share__sounds__en__hello.wav"
    kept.write_bytes(b"already there")  # a finished output is kept as it is, not redone
    (tmp_path / "out" / "usr__share__sounds__en__digits__1.wav").unlink()
    assert g722.convert_tree(tmp_path / "src", tmp_path / "out", progress=False) == g722.Converted(decoded=1, skipped=1)
    assert kept.read_bytes() == b"already there"
    # Outputs beside the inputs: the .g722 files stay byte for byte, and only WAVs are added.
    assert g722.convert_tree(tmp_path / "src", tmp_path / "src", progress=False).decoded == 2
    assert {p: p.read_bytes() for p in inputs} == before
    assert len(list((tmp_path / "src").glob("*.wav"))) == 2


def test_convert_tree_leaves_out_empty_inputs(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    empty = tmp_path / "src" / "is.g722"
    empty.touch()
    done = g722.convert_tree(tmp_path / "src", tmp_path / "out", progress=False)
    assert (done.decoded, done.empty) == (2, (empty,))
    assert not (tmp_path / "out" / "is.wav").exists()


def test_convert_tree_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        g722.convert_tree(tmp_path / "missing", tmp_path / "out", progress=False)
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="no .g722 files"):
        g722.convert_tree(tmp_path / "none", tmp_path / "out", progress=False)
    _write(tmp_path / "clash" / "a" / "b__c.g722", speech_like(0.1, 16000))
    _write(tmp_path / "clash" / "a__b" / "c.g722", speech_like(0.1, 16000))
    with pytest.raises(ValueError, match="same WAV name"):
        g722.convert_tree(tmp_path / "clash", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_main(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _tree(tmp_path / "src")
    assert g722.main([str(tmp_path / "src"), str(tmp_path / "out"), "-q"]) == 0
    assert len(list((tmp_path / "out").glob("*.wav"))) == 2
    assert g722.main([str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    assert "0 decoded, 2 already there" in capsys.readouterr().out
    (tmp_path / "src" / "bad.g722").write_bytes(b"RIFF....WAVE")
    assert g722.main([str(tmp_path / "src"), str(tmp_path / "out2"), "-q"]) == 1
    assert "bad.g722: this is a WAV (RIFF) file" in capsys.readouterr().err
