"""The loudness step of ``vqdsp master``: one file brought to the preset's loudness under its true-peak ceiling.

Without a limiter (or when no peak would pass the ceiling) this is one gain pass. With one, the
limiter (:mod:`vqdsp.mastering.limiter`) takes a little loudness from the peaks it lowers, so the
gain is raised by what is missing and the pass rerun (at most :data:`LEVEL_PASSES`, never over
``max_gain_db``), until the output is within :data:`LEVEL_TOLERANCE_LU` of the target. Each pass
streams the file: memory is bounded by the chunk size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vqdsp.mastering import loudness
from vqdsp.mastering.limiter import MARGIN_DB, TruePeakLimiter
from vqdsp.mastering.loudness import Loudness, measure_file, normalisation_gain
from vqdsp.mastering.presets import Preset

LEVEL_TOLERANCE_LU = 0.1  # how close to the target a limited file is brought
LEVEL_PASSES = 4  # gain passes at most: the first, then corrections for what the limiter took


@dataclass(frozen=True)
class Levelled:
    """What the loudness step did to a file.

    Args:
        output: the written file's measurement.
        gain_db: the gain applied (before the limiter).
        peak_limited: gain only: the true-peak ceiling, not the target, set the gain.
        gain_limited: the gain ceiling (``max_gain_db``) set the gain.
        limiter_max_reduction_db: the limiter's largest gain reduction (None: the preset has no limiter).
        limited_percent: share of the file the limiter turned down by more than 0.1 dB (None: no limiter).
    """

    output: Loudness
    gain_db: float
    peak_limited: bool
    gain_limited: bool
    limiter_max_reduction_db: float | None
    limited_percent: float | None


def level_file(processed: Path, staged: Path, preset: Preset, subtype: str | None, chunk_seconds: float = 10.0) -> Levelled:
    """Write ``processed`` at ``preset``'s loudness into ``staged`` (atomically), in ``subtype``.

    A limited output whose true peak still ends up over the ceiling (a rounding case) is turned
    down by the excess and written again.
    """
    from vqdsp.audio.files import open_audio

    with open_audio(processed) as (info, _):
        rate, channels = info.sample_rate, info.channels
    measured = measure_file(processed, chunk_seconds)
    ceiling, target = preset.true_peak_dbtp, preset.target_lufs
    limit = preset.limiter and ceiling is not None
    norm = normalisation_gain(measured, target, ceiling, preset.max_gain_db, limiter=limit)
    gain, max_gain = norm.gain_db, math.inf if preset.max_gain_db is None else preset.max_gain_db
    if ceiling is None or not limit or measured.true_peak_dbtp + gain <= ceiling - MARGIN_DB:
        loudness.apply_gain_file(processed, staged, gain, subtype, chunk_seconds)  # nothing to limit: gain only
        untouched = 0.0 if limit else None
        return Levelled(measure_file(staged, chunk_seconds), gain, norm.peak_limited, norm.gain_limited, untouched, untouched)
    for _ in range(LEVEL_PASSES):
        limiter = TruePeakLimiter(rate, channels, ceiling, release_ms=preset.limiter_release_ms)
        loudness.apply_gain_file(processed, staged, gain, subtype, chunk_seconds, limiter=limiter)
        result = Levelled(measure_file(staged, chunk_seconds), gain, False, gain >= max_gain,
                          limiter.max_reduction_db, 100.0 * limiter.limited_fraction)  # fmt: skip
        if result.output.true_peak_dbtp > ceiling:
            gain -= result.output.true_peak_dbtp - ceiling
            continue
        level = result.output.integrated_lufs
        short = target - level if target is not None and math.isfinite(level) else 0.0
        if short <= LEVEL_TOLERANCE_LU or gain >= max_gain:
            break
        gain = min(gain + short, max_gain)
    return result
