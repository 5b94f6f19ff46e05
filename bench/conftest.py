"""Benchmark set-up: machine facts in every benchmark's ``extra_info``, and the quick mode for CI.

Quick mode (``--quick``, ``--benchmark-disable`` or ``VQDSP_BENCH_QUICK=1``) picks tiny shapes, so
CI runs every benchmark once in seconds and only checks that it still works. The first two set
``VQDSP_BENCH_QUICK=1`` for the session, the one switch the benchmark modules read.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--quick", action="store_true", help="tiny shapes, for a CI smoke run of the benchmarks")


def quick_mode(config: pytest.Config) -> bool:
    """True with ``--quick``, ``--benchmark-disable`` or ``VQDSP_BENCH_QUICK=1``."""
    disabled = bool(config.getoption("benchmark_disable", default=False))
    env = os.environ.get("VQDSP_BENCH_QUICK", "") not in ("", "0")
    return bool(config.getoption("--quick")) or disabled or env


def pytest_configure(config: pytest.Config) -> None:
    if quick_mode(config):
        os.environ["VQDSP_BENCH_QUICK"] = "1"


@lru_cache(maxsize=1)
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict[str, object]:
    """CPU model and cores, torch threads, versions, the kernels' SIMD path and the load average."""
    facts: dict[str, object] = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        from vqdsp import _core

        facts["vqdsp_simd"] = _core.simd_isa()
        facts["vqdsp_cuda_build"] = _core.built_with_cuda()
    except ImportError:
        facts["vqdsp_simd"] = "extension not built"
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name()
    if hasattr(os, "getloadavg"):
        facts["load_avg_1min"] = round(os.getloadavg()[0], 2)
    return facts


def pytest_report_header(config: pytest.Config) -> str:
    facts = machine_facts()
    return "machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()) + (" (quick mode)" if quick_mode(config) else "")


@pytest.fixture(autouse=True)
def _record_machine_facts(request: pytest.FixtureRequest) -> None:
    if "benchmark" in request.fixturenames:
        request.getfixturevalue("benchmark").extra_info.update(machine_facts())
