"""Draw what the high-band stage does to a 48 kHz recording: docs/high_band_48k.png.

    .venv/bin/python scripts/high_band_figure.py [OUT.png]

The recording is the test fixture's real wide-band speech (16 kHz, so nothing above 8 kHz) taken
to 48 kHz, with pink noise over the whole band at 5 dB SNR; it is denoised by the default model
without the stage (the model's 2-4 kHz gain held up to 24 kHz) and with it.
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
FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "wideband_speech.flac"


def main(out: Path) -> None:
    speech, rate = sf.read(FIXTURE, dtype="float32")
    clean = resample(speech, rate, RATE)
    noisy = mix_at_snr(clean, make_noise("pink", len(clean), np.random.default_rng(0), RATE), 5.0)
    outputs = {
        "without the stage": VQDenoise(high_band=None)(noisy, RATE),
        "with the high-band stage": VQDenoise()(noisy, RATE),
    }
    fig = spectrogram_figure(clean, noisy, outputs, RATE, "48 kHz speech + pink noise at 5 dB (speech ends at 8 kHz)")
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "docs" / "high_band_48k.png")
