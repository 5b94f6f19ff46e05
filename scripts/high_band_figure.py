"""Draw what the models and their high-band stages do to a 48 kHz recording: docs/high_band_48k.png.

    .venv/bin/python scripts/high_band_figure.py [OUT.png]

The recording is the full-band test fixture (a held-out voice with speech energy to about 16 kHz),
with pink noise over the whole band at 5 dB SNR; it is denoised by the 8 kHz ``default`` model with
its stage (the path before the rate chose the model), by ``wideband`` without its stage (the
model's 4-8 kHz gain held up to 24 kHz) and by ``wideband`` with it (what ``VQDenoise()`` runs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from vqdsp.audio.effect import VQDenoise
from vqdsp.audio.stft import resample
from vqdsp.evaluation.evaluate import spectrogram_figure
from vqdsp.training.noise import make_noise, mix_at_snr

RATE = 48000
FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "fullband_speech.flac"


def main(out: Path) -> None:
    speech, rate = sf.read(FIXTURE, dtype="float32")
    clean = resample(speech, rate, RATE)
    noisy = mix_at_snr(clean, make_noise("pink", len(clean), np.random.default_rng(0), RATE), 5.0)
    outputs = {
        "default (8 kHz) + its stage": VQDenoise(model="default")(noisy, RATE),
        "wideband, no stage": VQDenoise(model="wideband", high_band=None)(noisy, RATE),
        "wideband + its stage (VQDenoise())": VQDenoise()(noisy, RATE),
    }
    fig = spectrogram_figure(clean, noisy, outputs, RATE, "48 kHz full-band speech + pink noise at 5 dB")
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "docs" / "high_band_48k.png")
