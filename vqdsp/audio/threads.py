"""Torch's threads in the audio path: one per segment while the effect runs, and the guard against forks.

A process forked after torch started its OpenMP threads hangs on its first forward; the audio path
raises a :class:`RuntimeError` that says which start methods work instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_torch_started = False  # set once this process has loaded or run a model (torch's OpenMP threads may exist)
_forked_after_torch = False


def mark_torch_started() -> None:
    """Note that this process has loaded or run a model: a fork from now on cannot run one."""
    global _torch_started
    _torch_started = True


def _after_fork_in_child() -> None:
    global _forked_after_torch
    _forked_after_torch = _forked_after_torch or _torch_started


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def check_not_forked_after_torch() -> None:
    """Raise where this process was forked after torch started its threads (a forward would hang)."""
    if _forked_after_torch:
        raise RuntimeError(
            "VQDenoise cannot run in a process forked after torch started its threads (it would hang); "
            "start process pools with multiprocessing.get_context('spawn') or 'forkserver'"
        )


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` torch threads (None: leave them as they are), then restore the setting."""
    before = torch.get_num_threads()
    if count is None or count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
