#!/usr/bin/env bash
# Fetch the full-band speech corpus (44.1/48 kHz voices from Debian packages) into a data folder
# outside git: one folder per voice in DATA_DIR/fullband-speakers/, then only the files with real
# speech energy up to 12 kHz (measured by `python -m vqdsp.training.band`, every measurement in
# DATA_DIR/fullband/band.csv) linked per voice into DATA_DIR/fullband/.
#
#   scripts/fetch_fullband.sh [DATA_DIR]     (default: ./data, ignored by git)
#
# Voices: hedgewars-data's voice packs (acted; the "Robot" pack is an effect and is skipped),
# klettres-data's letters and syllables and ktuberling-data's words (one folder per language),
# and the speech WAVs of alsa-utils (one clean studio voice, held out for validation).
# Never add the packages reserved for evaluation (see the README's model card).
set -euo pipefail
source "$(dirname "$0")/corpus_env.sh"  # repo, python, data
packages=(hedgewars-data klettres-data ktuberling-data alsa-utils)
mkdir -p "$data/debs" "$data/fullband-raw" "$data/fullband-speakers"
fetch_packages "$data/fullband-raw" "${packages[@]}"
speakers=$data/fullband-speakers
voice() { ln -sfn "$(realpath "$1")" "$speakers/$2"; }
for d in "$data/fullband-raw/hedgewars-data/usr/share/games/hedgewars/Data/Sounds/voices"/*/; do
  n=$(basename "$d"); [ "$n" = Robot ] || voice "$d" "hedgewars-$n"
done
for d in "$data/fullband-raw/klettres-data/usr/share/klettres"/*/; do
  n=$(basename "$d"); case "$n" in icons|pics) ;; *) voice "$d" "klettres-$n" ;; esac
done
for d in "$data/fullband-raw/ktuberling-data/usr/share/ktuberling/sounds"/*/; do voice "$d" "ktuberling-$(basename "$d")"; done
mkdir -p "$speakers/alsa-utils"
cp -n "$data/fullband-raw/alsa-utils/usr/share/sounds/alsa"/{Front,Rear,Side}_*.wav "$speakers/alsa-utils/"
"$python" -m vqdsp.training.band "$speakers"/* -o "$data/fullband"
