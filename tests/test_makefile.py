"""The README's set-up commands, read through ``make -n`` (what would run, nothing run)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None or not (ROOT / "Makefile").is_file(), reason="needs make and the Makefile")


def _dry_run(*args: str) -> list[list[str]]:
    """The shell commands ``make -n ARGS`` prints, split as the shell would; every target remade (-B)."""
    run = subprocess.run(["make", "-n", "-B", "--no-print-directory", "VENV=venv-x", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return [shlex.split(line) for line in run.stdout.splitlines() if line.strip()]


def test_denoise_quotes_its_variables() -> None:
    commands = _dry_run("denoise", "IN=my file.wav", "OUT=clean copy.flac", "FORCE=1")
    assert ["venv-x/bin/vqdsp", "denoise", "my file.wav", "-o", "clean copy.flac", "--force"] in commands


def test_denoise_without_arguments_runs_the_bundled_example() -> None:
    assert ["venv-x/bin/vqdsp", "denoise"] in _dry_run("denoise")


def test_denoise_installs_the_core_and_test_everything() -> None:
    def installs(target: str) -> list[str]:
        return [c[-1] for c in _dry_run(target) if c[1:4] == ["-m", "pip", "install"] and c[-1].startswith(".")]

    assert installs("denoise") == ["."]  # `pip install vqdsp`: no extra
    extras = installs("test")[-1]
    assert extras.startswith(".[")
    assert {"test", "eval", "train", "peers", "bench", "ray", "lint"} <= set(extras[2:-1].split(","))


def test_test_lints_and_type_checks_before_pytest() -> None:
    commands = _dry_run("test")
    ruff, mypy = commands.index(["venv-x/bin/ruff", "check", "."]), commands.index(["venv-x/bin/mypy"])
    assert ruff < mypy < commands.index(["venv-x/bin/python", "-m", "pytest"])
