"""Join a voice's short clips into utterances of a few seconds, for evaluation at 48 kHz.

Full-band voices come as clips of about a second (hedgewars' shouts, klettres' letters), too short
for ViSQOL (which needs more than a second) and for a stable STOI. This joins each voice's clips, in
name order, with 0.2 s of silence between them, into WAVs of at least ``--seconds``:

    python scripts/join_utterances.py data/fullband/alsa-utils data/fullband/hedgewars-Default_uk -o data/eval48k

writes ``data/eval48k/<voice>/<voice>-NN.wav`` at each voice's own rate (mono, 16-bit). A re-run
replaces them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from vqdsp.audio.files import find_audio_files, read_mono

GAP_SECONDS = 0.2


def join_voice(folder: Path, out: Path, seconds: float) -> list[Path]:
    files = find_audio_files(folder)
    if not files:
        return []
    rate = sf.info(files[0]).samplerate
    gap = np.zeros(round(GAP_SECONDS * rate), np.float32)
    written: list[Path] = []
    parts: list[np.ndarray] = []

    def flush() -> None:
        path = out / folder.name / f"{folder.name}-{len(written):02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
        written.append(path)
        parts.clear()

    for path in files:
        parts += [read_mono(path, rate), gap]
        if sum(map(len, parts)) >= seconds * rate:
            flush()
    if parts and sum(map(len, parts)) >= seconds * rate / 2:
        flush()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("voices", nargs="+", type=Path, help="one folder of clips per voice")
    parser.add_argument("-o", "--out", type=Path, required=True, help="folder for the joined utterances (one sub-folder per voice)")
    parser.add_argument("--seconds", type=float, default=4.0, help="shortest utterance, in seconds")
    args = parser.parse_args()
    for voice in args.voices:
        written = join_voice(voice, args.out, args.seconds)
        print(f"{voice.name}: {len(written)} utterances")


if __name__ == "__main__":
    main()
