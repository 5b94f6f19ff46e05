"""vqdsp.model.export and ``vqdsp export-onnx``: the graph in onnxruntime against the torch model, the
JSON of its transform, the command's file handling, and examples/denoise_onnx.py against ``vqdsp denoise``."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.effect import VQDenoise
from vqdsp.audio.stft import log_magnitude, resample, stft
from vqdsp.cli import EXAMPLE, main
from vqdsp.model.checkpoint import load_model, resolve_model
from vqdsp.model.export import FORMAT, INPUT_NAME, OPSET, OUTPUT_NAME, export_onnx, segment_shape

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'vqdsp[onnx]')")
onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'vqdsp[onnx]')")

ROOT = Path(__file__).resolve().parents[1]
WIDEBAND_SPEECH = Path(__file__).parent / "fixtures" / "wideband_speech.flac"
EXAMPLE_SCRIPT = ROOT / "examples" / "denoise_onnx.py"
MODELS = ("default", "wideband")  # 8 kHz and 16 kHz
GAIN_TOLERANCE = 1e-4  # natural-log gain, onnxruntime vs torch (measured about 2e-5)
EXAMPLE_TOLERANCE = 1e-5  # float samples, the example vs vqdsp (measured about 4e-7; the STFTs differ in rounding only)


def real_speech(model: str) -> tuple[np.ndarray, int]:
    """Noisy real speech at the model's rate: the bundled example (8 kHz), or the 16 kHz fixture with white noise at ~10 dB SNR."""
    if model == "default":
        audio, rate = sf.read(EXAMPLE, dtype="float32")
        return audio, rate
    audio, rate = sf.read(WIDEBAND_SPEECH, dtype="float32")
    noise = np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)
    return audio + 0.3 * float(np.sqrt(np.mean(audio**2))) * noise, rate


@pytest.fixture(scope="module", params=MODELS)
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp(request.param) / f"{request.param}.onnx"
    return request.param, export_onnx(out, request.param)


def _segments(model: str) -> np.ndarray:
    """Log-magnitudes ``[N, F, T]`` of the real speech's model-sized segments, as the denoiser cuts them."""
    cfg = load_model(model).config.stft
    audio, rate = real_speech(model)
    assert rate == cfg.sample_rate
    hop = cfg.segment_samples - cfg.segment_overlap
    segments = np.stack([audio[s : s + cfg.segment_samples] for s in range(0, len(audio) - cfg.segment_samples + 1, hop)])
    return log_magnitude(stft(segments, cfg), cfg)


def test_onnxruntime_gives_the_torch_models_gain_on_real_speech(exported) -> None:
    model, done = exported
    log_mag = _segments(model)
    expected = Denoiser(load_model(model)).log_gains(log_mag)  # the torch model as vqdsp runs it: folded, fused kernels
    session = ort.InferenceSession(str(done.onnx_path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: log_mag})[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= GAIN_TOLERANCE
    assert expected.min() < -1.0  # the speech is noisy: the gain is not a trivial 0 everywhere


def test_the_batch_axis_is_dynamic(exported) -> None:
    model, done = exported
    log_mag = _segments(model)[:3]
    session = ort.InferenceSession(str(done.onnx_path), providers=["CPUExecutionProvider"])
    one = [session.run([OUTPUT_NAME], {INPUT_NAME: log_mag[i : i + 1]})[0][0] for i in range(3)]
    together = session.run([OUTPUT_NAME], {INPUT_NAME: log_mag})[0]
    np.testing.assert_allclose(together, np.stack(one), atol=1e-5)
    graph = onnx.load(str(done.onnx_path)).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", *segment_shape(load_model(model).config.stft)]


def test_the_graph_holds_standard_onnx_ops_only(exported) -> None:
    _, done = exported
    graph = onnx.load(str(done.onnx_path))
    assert {n.domain for n in graph.graph.node} <= {"", "ai.onnx"}  # no custom op for a runtime to lack
    assert {"ArgMin", "MatMul"} <= {n.op_type for n in graph.graph.node}  # the nearest-code search, in the graph
    assert [o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]


def test_the_json_describes_the_transform(exported) -> None:
    model, done = exported
    spec = json.loads(done.spec_path.read_text())
    assert spec == done.spec
    config = load_model(model).config
    cfg = config.stft
    assert spec["model"]["name"] == model
    assert spec["model"]["sha256"] == hashlib.sha256(resolve_model(model).read_bytes()).hexdigest()
    assert spec["opset"] == OPSET
    assert (spec["input"]["name"], spec["output"]["name"]) == (INPUT_NAME, OUTPUT_NAME)
    assert spec["input"]["shape"] == spec["output"]["shape"] == ["batch", *stft(np.zeros(cfg.segment_samples), cfg).shape]
    assert {k: spec["stft"][k] for k in ("sample_rate", "nperseg", "noverlap", "window")} == {
        "sample_rate": cfg.sample_rate, "nperseg": cfg.nperseg, "noverlap": cfg.noverlap, "window": cfg.window}
    assert (spec["segments"]["samples"], spec["segments"]["overlap"]) == (cfg.segment_samples, cfg.segment_overlap)
    assert (spec["log_floor"], spec["max_attenuation_db"]) == (cfg.log_floor, config.max_attenuation_db)


# ---- the command ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export by the command, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("cli") / "model.onnx"
    assert main(["export-onnx", str(out)]) == 0
    return out


def test_export_onnx_writes_the_graph_and_its_json_and_nothing_else(cli_export: Path) -> None:
    assert sorted(p.name for p in cli_export.parent.iterdir()) == ["model.json", "model.onnx"]  # no temporary file left
    assert json.loads(cli_export.with_suffix(".json").read_text())["model"]["name"] == "default"


def test_export_onnx_never_overwrites_without_force(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "m.onnx"
    for existing in (out, out.with_suffix(".json")):
        existing.write_text("keep")
        assert main(["export-onnx", "-m", "fast", str(out)]) == 1
        assert "exists; add --force to replace it" in capsys.readouterr().err
        assert existing.read_text() == "keep"
    assert main(["export-onnx", "-m", "fast", str(out), "--force"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["model"]["name"] == "fast"
    assert onnx.load(str(out)).graph.input[0].name == INPUT_NAME


def test_export_onnx_never_replaces_a_models_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "mine.safetensors").write_bytes(b"weights")
    (tmp_path / "mine.json").write_text("config")
    assert main(["export-onnx", str(tmp_path / "mine.onnx"), "--force"]) == 1
    assert "is the config of the model" in capsys.readouterr().err
    assert (tmp_path / "mine.json").read_text() == "config"


@pytest.mark.parametrize("model", ["no-such-model", "missing.safetensors"])
def test_export_onnx_names_what_a_bad_model_should_be(tmp_path: Path, capsys: pytest.CaptureFixture, model: str) -> None:
    given = str(tmp_path / model) if model.endswith(".safetensors") else model
    assert main(["export-onnx", "-m", given, str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert f"no model {given!r}" in err
    assert "give a shipped model (default, wideband, fast, v1) or a .safetensors file" in err
    assert list(tmp_path.iterdir()) == []


def test_export_onnx_refuses_a_file_that_is_not_a_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "bad.safetensors").write_bytes(b"not weights")
    (tmp_path / "bad.json").write_text("{}")
    assert main(["export-onnx", "-m", str(tmp_path / "bad.safetensors"), str(tmp_path / "m.onnx")]) == 1
    assert "not a readable safetensors file" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("name", ["m.pt", "m"])
def test_export_onnx_wants_an_onnx_name(tmp_path: Path, capsys: pytest.CaptureFixture, name: str) -> None:
    assert main(["export-onnx", str(tmp_path / name)]) == 1
    assert "does not end in .onnx" in capsys.readouterr().err


# ---- the example ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():  # examples/denoise_onnx.py as a module
    spec = importlib.util.spec_from_file_location("denoise_onnx", EXAMPLE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_denoises_as_vqdsp_does_at_the_models_rate(exported, example) -> None:
    model, done = exported
    audio, rate = real_speech(model)
    session, spec = example.load(done.onnx_path)
    for limit in (None, 20.0):
        got = example.denoise(session, spec, audio, rate, attenuation_limit_db=limit)
        expected = VQDenoise(model=model, attenuation_limit_db=np.inf if limit is None else limit, partner=None)(audio, rate)  # one graph: no partner
        assert got.shape == audio.shape
        assert np.abs(got - expected).max() <= EXAMPLE_TOLERANCE
        assert np.abs(got - audio).max() > 0.01  # it did denoise


def test_the_example_runs_without_vqdsp_or_torch_and_writes_what_vqdsp_denoise_writes(cli_export: Path, tmp_path: Path) -> None:
    hide = (
        "import runpy, sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'vqdsp'):\n"
        "            raise ImportError(f'{name} is hidden from the example')\n"
        "sys.meta_path.insert(0, Hide())\n"
        "sys.argv = sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as end:\n"
        "    assert end.code == 0, end.code\n"
        "assert not {'torch', 'vqdsp'} & set(sys.modules), 'imported torch or vqdsp'\n"
    )
    ours, theirs = tmp_path / "onnx.wav", tmp_path / "vqdsp.wav"
    done = subprocess.run([sys.executable, "-c", hide, str(EXAMPLE_SCRIPT), str(cli_export), str(EXAMPLE), str(ours)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert main(["denoise", str(EXAMPLE), "-o", str(theirs)]) == 0
    a, rate_a = sf.read(ours, dtype="float32")
    b, rate_b = sf.read(theirs, dtype="float32")
    assert (rate_a, sf.info(ours).subtype, a.shape) == (rate_b, sf.info(theirs).subtype, b.shape)
    assert np.abs(a - b).max() <= 1 / 32768  # both 16-bit: at most one step apart where rounding falls either way


@pytest.mark.parametrize("samples", [2400, 6001])  # shorter than a segment; one past a segment hop
def test_the_example_agrees_with_vqdsp_on_short_and_stereo_input(cli_export: Path, example, samples: int) -> None:
    audio, rate = sf.read(EXAMPLE, dtype="float32")
    stereo = np.stack([audio[:samples], audio[-samples:]], axis=1)  # soundfile's [samples, channels]
    session, spec = example.load(cli_export)
    expected = VQDenoise(model="default")(stereo, rate)
    assert np.abs(example.denoise(session, spec, stereo, rate) - expected).max() <= EXAMPLE_TOLERANCE


def test_the_example_reads_the_json_the_export_writes(cli_export: Path, example, tmp_path: Path) -> None:
    assert example.FORMAT == FORMAT
    (tmp_path / "m.onnx").write_bytes(cli_export.read_bytes())
    (tmp_path / "m.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="export the model again"):
        example.load(tmp_path / "m.onnx")


def test_the_example_resamples_other_rates_and_keeps_the_layout(cli_export: Path, example) -> None:
    audio, rate = real_speech("default")
    stereo = np.stack([audio[:16000], audio[16000:32000]], axis=1)
    up = resample(stereo.T, rate, 11025).T
    session, spec = example.load(cli_export)
    out = example.denoise(session, spec, up, 11025)
    assert out.shape == up.shape
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))


def test_export_onnx_without_onnx_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export-onnx", str(tmp_path / "m.onnx")]) == 1
    assert "pip install 'vqdsp[onnx]'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_export_onnx_help_does_not_import_torch() -> None:
    probe = "import sys\nfrom vqdsp.cli import main\ntry:\n    main(['export-onnx', '--help'])\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert "OUT.json" in run.stdout
    assert run.stdout.split()[-1] == "False"
