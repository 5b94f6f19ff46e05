"""Mastering presets: a chain of effects by name plus loudness targets, written in a small TOML file.

A preset file looks like the built-in ``speech`` preset (``vqdsp master --show-preset speech``)::

    name = "speech"

    [loudness]
    target_lufs = -16.0     # integrated loudness, ITU-R BS.1770 (omit: no loudness normalisation)
    true_peak_dbtp = -1.0   # true-peak ceiling (omit: none)
    max_gain_db = 30.0      # gain ceiling (omit: none)
    limiter = true          # true-peak limiter after the gain (false: gain only, lowered to fit the ceiling)
    limiter_release_ms = 150.0

    [[effects]]
    name = "VQDenoise"      # vqdsp's denoiser, or any pedalboard plugin class by name
    attenuation_limit_db = 30.0

    [[effects]]
    name = "HighpassFilter"
    cutoff_frequency_hz = 80.0

Effects run in the order written; every other key of an ``[[effects]]`` table is a constructor
parameter of that effect. Everything is checked when the preset is loaded and built, so a typo
is an error before any file is touched.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pedalboard

from vqdsp.audio.chain import Pedalboard
from vqdsp.checks import BadValue, real
from vqdsp.mastering.limiter import RELEASE_MS

BUILTIN: dict[str, str] = {
    "speech": """\
# Speech (interviews, lectures, calls): denoise, remove rumble, compress gently, -16 LUFS, -1 dBTP.
name = "speech"

[loudness]
target_lufs = -16.0
true_peak_dbtp = -1.0
max_gain_db = 30.0   # = the denoiser's attenuation limit: residual noise never ends louder than it came in
limiter = true       # peaks the gain lifts over -1 dBTP are limited, so -16 LUFS is reached

[[effects]]
name = "VQDenoise"
attenuation_limit_db = 30.0   # keep a natural noise floor

[[effects]]
name = "HighpassFilter"
cutoff_frequency_hz = 80.0

[[effects]]
name = "Compressor"
threshold_db = -24.0
ratio = 2.5
attack_ms = 10.0
release_ms = 150.0
""",
}

# pedalboard classes that are containers or load third-party plugins, not effects with parameters.
_NOT_EFFECTS = {"Plugin", "PluginContainer", "Pedalboard", "Chain", "Mix", "ExternalPlugin", "VST3Plugin", "AudioUnitPlugin"}
_VQDENOISE_PARAMETERS = ("attenuation_limit_db", "mix", "model", "device", "threads", "channel_mode", "high_band", "backend", "partner")
LUFS_RANGE = (-70.0, 0.0)  # BS.1770's absolute gate is -70 LUFS: a quieter target gives silence
TRUE_PEAK_RANGE = (-60.0, 0.0)
MAX_GAIN_RANGE = (0.0, 120.0)
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "_db": (-120.0, 60.0), "_hz": (1e-3, 192000.0), "_ms": (0.0, 60000.0), "_seconds": (0.0, 60.0),
    "target_sample_rate": (1000.0, 384000.0), "q": (1e-3, 100.0), "semitones": (-72.0, 72.0), "bit_depth": (1.0, 32.0),
    "vbr_quality": (0.0, 10.0), "mix": (0.0, 1.0),
}
"""Sane ranges of pedalboard's float parameters, by name or name ending: outside them an effect gives
silence, NaN or an empty file (``Gain gain_db = 1000``, ``Resample target_sample_rate = 1``)."""


class PresetError(ValueError):
    """A preset that cannot be read or built; the message says what to fix."""


def effect_names() -> list[str]:
    """Names usable in ``[[effects]]``: ``VQDenoise`` and pedalboard's effect classes."""
    names = [
        name
        for name in dir(pedalboard)
        if not name.startswith("_")
        and name not in _NOT_EFFECTS
        and isinstance(cls := getattr(pedalboard, name), type)
        and issubclass(cls, pedalboard.Plugin)
    ]
    return sorted(["VQDenoise", *names])


def effect_parameters(name: str) -> dict[str, str]:
    """Constructor parameters of effect ``name``, each with its type as pedalboard writes it."""
    if name == "VQDenoise":
        return dict.fromkeys(_VQDENOISE_PARAMETERS, "")
    doc = (getattr(pedalboard, name).__init__.__doc__ or "").splitlines()
    signature = doc[0][doc[0].find("(") + 1 : doc[0].rfind(") ->")] if doc else ""
    matches = list(re.finditer(r"(?:^|, )(\w+): ", signature))
    params = {}
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        text = signature[m.end() : nxt.start() if nxt else len(signature)]
        params[m.group(1)] = text.split(" = ")[0]
    params.pop("self", None)
    return params


@dataclass(frozen=True)
class EffectSpec:
    """One effect of a preset: its name and constructor parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    """A mastering preset: the chain to run and the loudness to reach.

    Args:
        name: what the preset is called (its file's stem when the file gives none).
        effects: the chain, in processing order.
        target_lufs: integrated loudness to normalise to, in LUFS; None: no normalisation.
        true_peak_dbtp: true-peak ceiling in dBTP; None: none.
        max_gain_db: largest gain the normalisation may apply, in dB; None: none.
        limiter: limit the true peaks the gain lifts over ``true_peak_dbtp`` (look-ahead true-peak
            limiter, :mod:`vqdsp.mastering.limiter`); False: gain only, lowered until the peak fits.
        limiter_release_ms: the limiter's release time constant.
    """

    name: str
    effects: tuple[EffectSpec, ...]
    target_lufs: float | None = None
    true_peak_dbtp: float | None = None
    max_gain_db: float | None = None
    limiter: bool = True
    limiter_release_ms: float = RELEASE_MS

    def build(self) -> Pedalboard:
        """A fresh chain of the preset's effects (loads the model for ``VQDenoise``)."""
        return Pedalboard([_build_effect(spec) for spec in self.effects])


def load_preset(name_or_path: str | os.PathLike) -> Preset:
    """A built-in preset by name, or a preset TOML file by path; raises :class:`PresetError`."""
    text = BUILTIN.get(str(name_or_path))
    if text is not None:
        return parse_preset(text, str(name_or_path))
    path = Path(name_or_path)
    if not path.is_file():
        raise PresetError(
            f"no preset named {str(name_or_path)!r} and no such file; "
            f"use a built-in preset ({', '.join(sorted(BUILTIN))}) or a .toml file"
        )
    return parse_preset(path.read_text(encoding="utf-8"), path.stem, base_dir=path.parent, source=str(path))


def parse_preset(text: str, default_name: str, base_dir: Path | None = None, source: str = "preset") -> Preset:
    """Parse and check preset TOML ``text``; relative ``model`` paths are taken from ``base_dir`` (a shipped model's name stays a name)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PresetError(f"{source} is not valid TOML: {err}") from err
    except RecursionError as err:
        raise PresetError(f"{source} is nested too deeply to be a preset; write [loudness] and [[effects]] tables") from err
    _check_keys(doc, {"name", "description", "loudness", "effects"}, f"{source}")
    loudness = doc.get("loudness", {})
    if not isinstance(loudness, dict):
        raise PresetError(f"{source}: [loudness] must be a table with target_lufs, true_peak_dbtp and max_gain_db")
    _check_keys(loudness, {"target_lufs", "true_peak_dbtp", "max_gain_db", "limiter", "limiter_release_ms"}, f"{source} [loudness]")
    target = _number(loudness.get("target_lufs"), f"{source} [loudness] target_lufs", *LUFS_RANGE)
    ceiling = _number(loudness.get("true_peak_dbtp"), f"{source} [loudness] true_peak_dbtp", *TRUE_PEAK_RANGE)
    max_gain = _number(loudness.get("max_gain_db"), f"{source} [loudness] max_gain_db", *MAX_GAIN_RANGE)
    limiter = loudness.get("limiter", True)
    if not isinstance(limiter, bool):
        raise PresetError(f"{source} [loudness] limiter must be true or false, got {limiter!r}")
    release = _number(loudness.get("limiter_release_ms", RELEASE_MS), f"{source} [loudness] limiter_release_ms", 1.0, 5000.0)
    effects = doc.get("effects", [])
    if not isinstance(effects, list) or not all(isinstance(e, dict) for e in effects):
        raise PresetError(f"{source}: effects are written as [[effects]] tables, each with a name")
    specs = tuple(_effect_spec(table, i, source, base_dir) for i, table in enumerate(effects))
    return Preset(str(doc.get("name", default_name)), specs, target, ceiling, max_gain, limiter, float(release or RELEASE_MS))


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise PresetError(f"{where}: unknown key {key!r}{_did_you_mean(key, allowed)}; expected {', '.join(sorted(allowed))}")


def _number(value: Any, where: str, lower: float, upper: float) -> float | None:
    if value is None:
        return None
    try:
        return real(value, where, lower, upper)
    except BadValue as err:
        raise PresetError(str(err)) from None


def _check_parameter(effect: str, key: str, type_name: str, value: Any, where: str) -> None:
    """Refuse a value of the wrong type, NaN/Inf, or outside :data:`PARAMETER_RANGES` before pedalboard sees it."""
    if type_name == "bool" and not isinstance(value, bool):
        raise PresetError(f"{where} ({effect}) {key} must be true or false, got {value!r}")
    if type_name not in ("float", "Optional[float]"):
        return
    name = f"{where} ({effect}) {key}"
    low, high = next((r for end, r in PARAMETER_RANGES.items() if key == end or (end.startswith("_") and key.endswith(end))),
                     (-math.inf, math.inf))
    try:
        real(value, name, low, high)
    except BadValue as err:
        raise PresetError(str(err)) from None


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _effect_spec(table: dict, index: int, source: str, base_dir: Path | None) -> EffectSpec:
    params = dict(table)
    name = params.pop("name", None)
    where = f"{source} effect #{index + 1}"
    if not isinstance(name, str):
        raise PresetError(f"{where}: every [[effects]] table needs name = \"<effect>\", e.g. \"Compressor\"")
    names = effect_names()
    if name not in names:
        raise PresetError(f"{where}: unknown effect {name!r}{_did_you_mean(name, names)}; known: {', '.join(names)}")
    known = effect_parameters(name)
    for key, value in params.items():
        if key not in known:
            raise PresetError(
                f"{where} ({name}): unknown parameter {key!r}{_did_you_mean(key, known)}; "
                f"{name} takes {', '.join(known) or 'no parameters'}"
            )
        _check_parameter(name, key, known[key], value, where)
    for key, keywords in (("model", ()), ("partner", ("auto", "none"))):
        value = params.get(key)
        if name == "VQDenoise" and isinstance(value, str) and value not in keywords and base_dir is not None:
            from vqdsp.model.checkpoint import SHIPPED_MODELS

            local = (base_dir / value).resolve()
            if value not in SHIPPED_MODELS or local.exists():  # "fast": the shipped model, unless a file of that name is there
                params[key] = str(local)
    high_band = params.get("high_band")
    if name == "VQDenoise" and isinstance(high_band, str) and high_band not in ("default", "none") and base_dir is not None:
        params["high_band"] = str((base_dir / high_band).resolve())
    return EffectSpec(name, params)


def _build_effect(spec: EffectSpec) -> Any:
    params = dict(spec.params)
    if spec.name == "VQDenoise":
        from vqdsp.audio.effect import VQDenoise

        cls = VQDenoise
        for key in ("high_band", "partner"):  # TOML has no null: "none" turns the stage off, or runs the model alone
            if params.get(key) == "none":
                params[key] = None
    else:
        cls = getattr(pedalboard, spec.name)
        for key, type_name in effect_parameters(spec.name).items():
            if isinstance(params.get(key), str) and type_name.startswith("pedalboard_native."):
                params[key] = _enum_member(type_name, params[key], spec.name, key)
    try:
        return cls(**params)
    except (TypeError, ValueError, OSError, RuntimeError) as err:
        shown = ", ".join(f"{k}={v!r}" for k, v in spec.params.items())
        raise PresetError(f"cannot make {spec.name}({shown}): {err}".splitlines()[0]) from err


def _enum_member(type_name: str, value: str, effect: str, key: str) -> Any:
    enum: Any = pedalboard  # walked attribute by attribute: a submodule, then the enum class
    for part in type_name.split(".")[1:]:
        enum = getattr(enum, part, None)
    members = [m for m in dir(enum) if not m.startswith("_") and isinstance(getattr(enum, m), enum)] if enum else []
    if value not in members:
        raise PresetError(f"{effect} {key} = {value!r} is not one of {', '.join(members)}")
    return getattr(enum, value)
