"""``vqdsp.Pedalboard``: a drop-in for ``pedalboard.Pedalboard`` that also runs Python effects.

Why it exists: pedalboard's native chain calls its plugins from C++ and cannot call an effect
written in Python (spotify/pedalboard#12; Python code cannot subclass ``pedalboard.Plugin``).
This chain has the same list-like API and call signature, holds pedalboard's own plugins
(including native ``Pedalboard``/``Chain``/``Mix`` objects) and Python effects such as
:class:`~vqdsp.audio.effect.VQDenoise` in any order, and runs each run of consecutive native plugins as
one native ``pedalboard.Pedalboard`` (no per-plugin Python overhead). A chain of native plugins
only gives exactly what ``pedalboard.Pedalboard`` gives.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pedalboard


@runtime_checkable
class Effect(Protocol):
    """What a Python effect needs to sit in a chain: pedalboard's call contract."""

    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True) -> np.ndarray: ...

    def reset(self) -> None: ...


def _check_plugin(plugin: Any) -> Any:
    if isinstance(plugin, pedalboard.Plugin) or (isinstance(plugin, Effect) and not isinstance(plugin, type)):
        return plugin
    raise TypeError(
        f"a chain holds pedalboard plugins or effects with process() and reset(), got {type(plugin).__name__}"
    )


class Pedalboard(MutableSequence):
    """A chain of effects applied in order: ``Pedalboard([VQDenoise(), Compressor()])(audio, sample_rate)``.

    Args:
        plugins: pedalboard plugins and Python effects, in processing order.
    """

    is_effect = True
    is_instrument = False

    def __init__(self, plugins: Iterable[Any] | None = None) -> None:
        self._plugins = [_check_plugin(p) for p in (plugins or [])]
        self._stages: list[Any] | None = None

    # -- list-like API ------------------------------------------------------------------------
    def __getitem__(self, index):
        return self._plugins[index]

    def __setitem__(self, index, value) -> None:
        if isinstance(index, slice):
            value = [_check_plugin(p) for p in value]
        else:
            value = _check_plugin(value)
        self._plugins[index] = value
        self._stages = None

    def __delitem__(self, index) -> None:
        del self._plugins[index]
        self._stages = None

    def __len__(self) -> int:
        return len(self._plugins)

    def insert(self, index: int, value: Any) -> None:
        self._plugins.insert(index, _check_plugin(value))
        self._stages = None

    def __repr__(self) -> str:
        return f"<vqdsp.Pedalboard with {len(self)} plugin{'s' if len(self) != 1 else ''}: {self._plugins!r}>"

    # -- processing ---------------------------------------------------------------------------
    @property
    def stages(self) -> list[Any]:
        """What actually runs: consecutive native plugins grouped into one ``pedalboard.Pedalboard`` each."""
        if self._stages is None:
            stages: list[Any] = []
            run: list[Any] = []
            for plugin in self._plugins:
                if isinstance(plugin, pedalboard.Plugin):
                    run.append(plugin)
                    continue
                if run:
                    stages.append(pedalboard.Pedalboard(run))
                    run = []
                stages.append(plugin)
            if run:
                stages.append(pedalboard.Pedalboard(run))
            self._stages = stages
        return self._stages

    @property
    def latency_samples(self) -> int:
        """Sum of the reported latencies of the Python effects (native plugins report none to Python)."""
        return sum(getattr(stage, "latency_samples", 0) for stage in self.stages)

    def latency_at(self, sample_rate: float) -> int:
        """Delay of the ``reset=False`` output in samples at ``sample_rate``: the stages' ``latency_at``
        where they have one (:class:`~vqdsp.VQDenoise`), else their ``latency_samples``."""
        return sum(
            stage.latency_at(sample_rate) if hasattr(stage, "latency_at") else getattr(stage, "latency_samples", 0)
            for stage in self.stages
        )

    def shortest_input_at(self, sample_rate: float) -> int:
        """Fewest samples at ``sample_rate`` its effects can judge (0 if none says); shorter files get a warning."""
        return max((stage.shortest_input_at(sample_rate) for stage in self.stages if hasattr(stage, "shortest_input_at")), default=0)

    def reset(self) -> None:
        """Reset every plugin (tails, buffers); parameters stay as they are."""
        for plugin in self._plugins:
            plugin.reset()

    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True) -> np.ndarray:
        """Run ``input_array`` through every plugin in order (same conventions as ``pedalboard.Pedalboard``)."""
        audio = input_array
        for stage in self.stages:
            audio = stage.process(audio, sample_rate, buffer_size=buffer_size, reset=reset)
        return audio if self.stages else np.asarray(input_array, dtype=np.float32).copy()

    __call__ = process
