"""What every sub-command shares: the bundled example, option types and choices, errors and help text.

Imports nothing heavy, so ``--help`` and argument errors answer without importing torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vqdsp.arguments import number, text, whole_number

EXAMPLE = Path(__file__).parents[1] / "example_audio" / "noisy_speech.wav"
EXAMPLE_OUTPUT = Path("out") / "noisy_speech.denoised.wav"  # relative to the working directory
WRITABLE = (".wav", ".flac", ".ogg", ".aiff", ".mp3")
READABLE = "WAV, FLAC, OGG, AIFF, MP3 or M4A"

# Defaults shown in --help that belong to modules importing torch or numpy; tests/test_cli.py
# checks that they still match those modules.
EVAL_SYSTEMS = ("noisy", "model", "noisereduce", "rnnoise", "deepfilternet3", "gtcrn")  # vqdsp.evaluation.systems.SYSTEMS
EVAL_NOISE = ("white", "pink", "babble")  # vqdsp.evaluation.evaluate.NoiseRecipe
EVAL_SNR_DB = (0.0, 5.0, 10.0)
TRAIN_NOISE = ("white", "pink", "brown", "hum", "babble", "clicks", "keyboard", "modulated", "fan")  # vqdsp.training.data.NoiseMix
TRAIN_SNR_DB = (-5.0, 20.0)
NOISE_TYPES = ("white", "pink", "brown", "hum", "babble", "recorded", "music", "clicks", "keyboard", "modulated", "fan")  # vqdsp.training.noise
CONDITION_TYPES = (*NOISE_TYPES, "reverb", "channel")  # vqdsp.evaluation.evaluate.CONDITION_TYPES
PRESETS = ("speech",)  # vqdsp.mastering.presets.BUILTIN
MIN_RATE, MAX_RATE = 1000, 384000  # vqdsp.audio.parameters.MIN_SAMPLE_RATE, MAX_SAMPLE_RATE
HIGH_BAND_STAGE = (32, 5, 3, 8, 8000.0)  # channels, kernel, layers, bands, top_hz of vqdsp.model.high_band.HighBandConfig
EXTRA_OF_COMMAND = {"eval": "eval", "train": "train", "train-high-band": "train", "master": "ray", "export-onnx": "onnx"}


def none_arg(value: str) -> str | None:
    """An option's value as ``VQDenoise`` takes it: ``none`` (``--high-band none``: no stage; ``--partner none``:
    the model alone) is None."""
    return None if value == "none" else value


SNR_DB = number(-100.0, 100.0)  # beyond this a mixture is all speech or all noise, to float32's precision
SEED = whole_number(0, 2**32 - 1)
COUNT = whole_number(1)
THREADS = whole_number(0, 4096)
WEIGHT = number(0.0, 1e6)
LEARNING_RATE = number(0.0, 10.0, low_open=True)
STAGE = text("default, none or a .safetensors file")
MODEL = text("a shipped model's name or a .safetensors file")
PARTNER = text("auto, none, a shipped model's name or a .safetensors file")


def fatal(message: str) -> int:
    """Print ``message`` as an error of the ``vqdsp`` command; returns the exit status, 1."""
    print(f"vqdsp: error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message holds
    return 1


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with each option's default added to its help unless the help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or not action.option_strings or default is None or default is False or default == argparse.SUPPRESS:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


positive_int = whole_number(1)
"""argparse type: a whole number >= 1."""


class Terminated(BaseException):
    """SIGTERM arrived (``kill``, ``timeout``): raised in the main thread so that temporaries are removed on the way out
    (a BaseException, like KeyboardInterrupt: no ``except Exception`` that reports one bad file swallows it)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within: SIGTERM raises :class:`Terminated` (like Ctrl-C's KeyboardInterrupt), so ``finally`` blocks clean up."""
    import signal

    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
