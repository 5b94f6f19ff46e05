"""Which denoiser runs audio at each rate: the model (named, or the shipped one the rate chooses),
its high-band stage, its low-band partner, the device and the backend that runs the forward.

:class:`~vqdsp.audio.effect.VQDenoise` owns the stream; this owns the models behind it, loads
them on first use and keeps them consistent when a parameter changes (a stage must fit its
model; a new device or backend reaches every loaded model, partners included).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.ensemble import LowBandPartner
from vqdsp.model.backends import check_backend
from vqdsp.model.checkpoint import (
    RATE_CHOSEN_MODELS,
    SHIPPED_MODELS,
    load_config,
    load_model,
    resolve_model,
    shipped_model_for,
    shipped_partner_for,
)
from vqdsp.model.config import StftConfig
from vqdsp.model.high_band import HighBandError, HighBandNet, load_high_band, shipped_high_band_for

ModelSource = str | Path | torch.nn.Module | None
StageSource = str | Path | HighBandNet | None
AUTO_PARTNER = "auto"
"""``partner``'s default: the shipped partner of the model's transform, where one ships (``wideband``'s: ``default``)."""


class ModelChoice:
    """The denoisers of one effect, by rate.

    Args:
        device: torch device the models run on (checked by the effect).
        backend: what runs the forward (:data:`~vqdsp.model.backends.BACKENDS`).
        attenuation_limit_db: deepest suppression in dB (``math.inf``: the model's own).
        denoiser_class: the :class:`Denoiser` to build (the benchmarks' reference path swaps it).
    """

    def __init__(self, device: str, backend: str, attenuation_limit_db: float, denoiser_class: type[Denoiser] = Denoiser) -> None:
        self.device, self.denoiser_class = device, denoiser_class
        self.backend = check_backend(backend)
        self._check_device_backend(device, self.backend)
        self.attenuation_limit_db = attenuation_limit_db
        self.named: Denoiser | None = None  # the named model's; None while the rate chooses
        self.by_name: dict[str, Denoiser] = {}  # the shipped models the rate chose, loaded on first use
        self.source: ModelSource = None
        self.stage_source: StageSource = "default"
        self.partner_source: ModelSource = AUTO_PARTNER

    # -- the model ------------------------------------------------------------------------------
    def set_model(self, value: Any) -> None:
        """Name (or give) the model; None lets the rate choose. The stage is chosen again for it."""
        source: ModelSource
        loaded: torch.nn.Module | None
        check_model_value("model", value, "", "chosen by the rate", "to let the rate choose")
        device = self.device
        if isinstance(value, torch.nn.Module):
            device = str(next(value.parameters()).device)  # a loaded model runs where it is
            self._check_device_backend(device, self.backend)
            source, loaded = value, value
        else:
            source = value if value is None or isinstance(value, str) else Path(value)  # a str may name a shipped model
            loaded = None if source is None else load_model(source, device)
        named = None if loaded is None else self.new_denoiser(loaded)  # may refuse: nothing is changed before
        if named is not None:
            named.partner = self._partner_for(named, self.partner_source, device)
        self.by_name, self.named, self.source, self.device = {}, named, source, device
        self.set_high_band(self.stage_source)  # again: the stage must fit the new model

    @property
    def model(self) -> str | torch.nn.Module | None:
        """Path or name of the model file, the model itself if one was given loaded, or None: the rate chooses."""
        if isinstance(self.source, torch.nn.Module):
            return self.source
        return None if self.source is None else str(self.source)

    def model_at(self, sample_rate: int) -> str | torch.nn.Module:
        """The model that denoises audio at ``sample_rate``: the one named, else the shipped one the rate chooses."""
        model = self.model
        return shipped_model_for(sample_rate) if model is None else model

    def new_denoiser(self, model: torch.nn.Module) -> Denoiser:
        limit = None if math.isinf(self.attenuation_limit_db) else self.attenuation_limit_db
        return self.denoiser_class(model, attenuation_limit_db=limit, backend=self.backend)

    def denoiser_at(self, sample_rate: int) -> Denoiser:
        """The segment denoiser for audio at ``sample_rate`` (a shipped model chosen by rate is loaded on first use)."""
        if self.named is not None:
            return self.named
        name = shipped_model_for(sample_rate)
        if name not in self.by_name:
            denoiser = self.new_denoiser(load_model(name, self.device))
            denoiser.high_band = self._stage_for(denoiser, self.stage_source)
            denoiser.partner = self._partner_for(denoiser, self.partner_source, self.device)
            self.by_name[name] = denoiser
        return self.by_name[name]

    def loaded(self) -> list[Denoiser]:
        return [self.named] if self.named is not None else list(self.by_name.values())

    def _every_loaded(self) -> list[Denoiser]:
        """The loaded denoisers and their partners'."""
        loaded = self.loaded()
        return loaded + [d.partner.denoiser for d in loaded if d.partner is not None]

    def describe_at(self, sample_rate: int) -> str:
        """What denoises audio at ``sample_rate``, in words: the model, its rate, and the high-band stage if one runs."""
        denoiser, model = self.denoiser_at(sample_rate), self.model_at(sample_rate)
        name = repr(model) if isinstance(model, str) else type(model).__name__
        chosen = " (chosen by rate)" if self.source is None else ""
        backend = "" if self.backend == "torch" else f" on {self.backend}"
        text = f"model {name}{chosen} at {denoiser.model_stft.sample_rate / 1000:g} kHz{backend}"
        partner = denoiser.partner
        if partner is not None and partner.joins_at(sample_rate):
            with_model = partner.denoiser.model_stft.sample_rate / 1000
            text += f", averaged with {self._partner_name(denoiser)} ({with_model:g} kHz) below {partner.crossover_hz[1] / 1000:g} kHz"
        stage = denoiser.high_band
        if stage is not None and sample_rate >= stage.config.min_sample_rate:
            cfg = stage.config
            return f"{text}, high-band stage from {cfg.split_hz / 1000:g} to {cfg.top_hz / 1000:g} kHz (its top band's gain held above)"
        if sample_rate <= denoiser.model_stft.sample_rate:
            return text
        return f"{text}, no high-band stage at {sample_rate / 1000:g} kHz (the model's top-band gain above {denoiser.model_stft.sample_rate / 2000:g} kHz)"

    @property
    def model_rate(self) -> int:
        """The rate the named model works at, in Hz (with the rate choosing: the 8 kHz ``default``'s)."""
        return self.named.model_stft.sample_rate if self.named is not None else load_config(resolve_model("default")).stft.sample_rate

    # -- the other parameters -------------------------------------------------------------------
    def set_limit(self, value: float) -> None:
        self.attenuation_limit_db = value
        for denoiser in self._every_loaded():
            denoiser.attenuation_limit_db = None if math.isinf(value) else value

    def set_device(self, device: str) -> None:
        self._check_device_backend(device, self.backend)
        self.device = device
        for denoiser in self._every_loaded():
            denoiser.model.to(device)
            if denoiser.high_band is not None:
                denoiser.high_band.to(device)

    def set_backend(self, value: Any) -> None:
        """Run the forward on ``value`` from now on: every loaded model is built again for it."""
        backend = check_backend(value)
        self._check_device_backend(self.device, backend)
        before, self.backend = self.backend, backend
        try:
            if self.named is not None or self.by_name:
                self.set_model(self.source)
        except Exception:
            self.backend = before  # the models loaded for it stay
            raise

    @staticmethod
    def _check_device_backend(device: str, backend: str) -> None:
        if backend == "onnxruntime" and device != "cpu":
            raise ValueError(f"backend 'onnxruntime' runs on the CPU, but the device is {device!r}; use backend='torch' there")

    # -- the high-band stage --------------------------------------------------------------------
    @property
    def high_band(self) -> str | HighBandNet | None:
        """The high-band stage's source: ``"default"``, a file path, the stage itself if given loaded, or None."""
        source = self.stage_source
        return source if source is None or isinstance(source, (str, HighBandNet)) else str(source)

    def set_high_band(self, value: Any) -> None:
        value = stage_source(value)
        if self.named is not None:
            self.named.high_band = self._stage_for(self.named, value)  # checks it fits the model
        else:  # the rate chooses the model: a given stage must fit one of the shipped ones
            stage = self._stage(value, None)
            if stage is not None and not any(load_config(resolve_model(name)).stft == stage.config.model_stft for name in RATE_CHOSEN_MODELS):
                raise HighBandError(
                    f"the high-band stage was trained for a model with transform {stage.config.model_stft}, "
                    f"which no shipped model has; name its model (model=...) or pass high_band=None"
                )
            for denoiser in self.by_name.values():
                denoiser.high_band = self._stage_for(denoiser, value)
        self.stage_source = value

    def _stage(self, source: StageSource, model_stft: StftConfig | None) -> HighBandNet | None:
        """The stage of ``source`` on this device: ``"default"``: the shipped stage of ``model_stft``
        (None where none ships); a file is checked against ``model_stft`` when it is given."""
        if source is None or isinstance(source, HighBandNet):
            stage = source
        elif source == "default":
            stage = None if model_stft is None else shipped_high_band_for(model_stft)
        else:
            stage = load_high_band(source, model_stft)
        return None if stage is None else stage.to(self.device)

    def _stage_for(self, denoiser: Denoiser, source: StageSource) -> HighBandNet | None:
        """The stage of ``source`` for ``denoiser``'s model. A named model must fit it; with the rate choosing,
        a stage of another transform serves the other shipped model, not this one."""
        if self.named is not None or source == "default":
            return self._stage(source, denoiser.model_stft)
        stage = self._stage(source, None)
        return stage if stage is not None and stage.config.model_stft == denoiser.model_stft else None

    # -- the low-band partner ------------------------------------------------------------------
    @property
    def partner(self) -> str | torch.nn.Module | None:
        """The partner's source: ``"auto"``, a shipped model's name or a file path, the model itself if given loaded, or None."""
        source = self.partner_source
        return source if source is None or isinstance(source, (str, torch.nn.Module)) else str(source)

    def set_partner(self, value: Any) -> None:
        """Average ``value``'s gain with the model's below the crossover (``"auto"``: the shipped partner of each model)."""
        source = partner_source(value)
        partners = {id(d): self._partner_for(d, source, self.device) for d in self.loaded()}  # may refuse: nothing changed yet
        for denoiser in self.loaded():
            denoiser.partner = partners[id(denoiser)]
        self.partner_source = source

    def _partner_for(self, denoiser: Denoiser, source: ModelSource, device: str) -> LowBandPartner | None:
        """The partner of ``source`` for ``denoiser``'s model, built like it (limit, backend; no stage)."""
        if isinstance(source, str) and source == AUTO_PARTNER:
            source = shipped_partner_for(denoiser.model_stft)
        if source is None:
            return None
        model = source if isinstance(source, torch.nn.Module) else load_model(source, device)
        partner = LowBandPartner(self.new_denoiser(model))
        partner.check_fits(denoiser)  # here too, so that set_partner refuses before it changes anything
        return partner

    def _partner_name(self, denoiser: Denoiser) -> str:
        """The partner of ``denoiser`` in words: a shipped model's name, a file, or the loaded model's class."""
        source = self.partner_source
        if isinstance(source, str) and source == AUTO_PARTNER:
            return repr(shipped_partner_for(denoiser.model_stft))
        if isinstance(source, (str, Path)):
            return repr(str(source))
        return type(source).__name__


def check_model_value(what: str, value: Any, also: str, none_means: str, none_for: str) -> None:
    """Refuse a ``model``-like value (``what``) that is no name, path, loaded module or None, or is empty.

    ``also``: what else it may be, before the shipped names; ``none_means`` / ``none_for``: what None does."""
    if not (value is None or isinstance(value, (str, os.PathLike, torch.nn.Module))):
        raise TypeError(
            f"{what} must be {also}a shipped model's name ({', '.join(map(repr, SHIPPED_MODELS))}), a path to a .safetensors "
            f"file, a loaded torch.nn.Module, or None ({none_means}), got {value!r}"
        )
    if isinstance(value, (str, os.PathLike)) and not os.fspath(value):
        raise ValueError(f"{what} must name {also}a shipped model or a .safetensors file, got ''; pass {what}=None {none_for}")


def partner_source(value: Any) -> ModelSource:
    """A ``partner`` value as kept: ``"auto"``, None, a loaded model, a shipped model's name, or a Path."""
    check_model_value("partner", value, f"{AUTO_PARTNER!r} or ", "the model alone", "for the model alone")
    if value is None or isinstance(value, torch.nn.Module) or (isinstance(value, str) and (value == AUTO_PARTNER or value in SHIPPED_MODELS)):
        return value
    return Path(value)


def stage_source(value: Any) -> StageSource:
    """A ``high_band`` value as kept: ``"default"`` (unless a file of that name is here), None, a stage, or a Path."""
    if not (value is None or isinstance(value, (str, os.PathLike, HighBandNet))):
        raise TypeError(f"high_band must be 'default', a path to a .safetensors stage, a loaded HighBandNet, or None (no stage), got {value!r}")
    if isinstance(value, (str, os.PathLike)) and not os.fspath(value):
        raise ValueError("high_band must be 'default', a .safetensors file or None, got ''; pass high_band=None for no stage")
    if value is None or isinstance(value, HighBandNet) or (isinstance(value, str) and value == "default" and not Path(value).exists()):
        return value
    return Path(value)
