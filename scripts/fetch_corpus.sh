#!/usr/bin/env bash
# Fetch the 8 kHz speech corpus (Debian's asterisk sound packages: several speakers and
# languages) into a data folder outside git, and lay it out one folder per speaker; also
# fetch music on hold (asterisk-moh-opsound-wav) for music noise, one file per track, and
# the 16 kHz corpus: five of the same voices coded with G.722 (asterisk-core-sounds-*-g722),
# decoded to 16-bit WAV in DATA_DIR/speakers16k/<package>/ by `python -m vqdsp.training.g722`.
#
#   scripts/fetch_corpus.sh [DATA_DIR]     (default: ./data, ignored by git)
#
# Needs `apt-get download` and `dpkg -x` (no root install), and for the G.722 decoding vqdsp
# with its `train` extra: the repository's .venv, or the Python named by $PYTHON. Users with
# their own recordings skip this and point `vqdsp train` at their folders. A re-run only does
# what is missing.
set -euo pipefail
source "$(dirname "$0")/corpus_env.sh"  # repo, python, data
mkdir -p "$data/debs" "$data/raw" "$data/speakers" "$data/music-raw" "$data/music" "$data/raw16k" "$data/speakers16k"
packages=(
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav asterisk-prompt-es-co
  asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav
)
music_packages=(asterisk-moh-opsound-wav)
g722_packages=(
  asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722
  asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722
)
cd "$data/debs"
for p in "${packages[@]}" "${music_packages[@]}" "${g722_packages[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p" || {
    echo "could not download $p (try 'apt-get update' first)" >&2; exit 1; }
done
extract() {  # extract PACKAGE into FOLDER/PACKAGE once
  local deb
  deb=$(ls "${1}"_*.deb | head -n 1)
  [ -d "$2/$1" ] && return  # extracted beside it first: a cut run leaves no half folder behind
  rm -rf "$2/.$1.partial"
  dpkg -x "$deb" "$2/.$1.partial"
  mv "$2/.$1.partial" "$2/$1"
}
for p in "${packages[@]}"; do extract "$p" "$data/raw"; done
for p in "${music_packages[@]}"; do extract "$p" "$data/music-raw"; done
for p in "${g722_packages[@]}"; do extract "$p" "$data/raw16k"; done
# One folder per speaker (package = voice), holding links to its WAV files.
for dir in "$data/raw"/*; do
  name=$(basename "$dir")
  mkdir -p "$data/speakers/$name"
  find "$dir" \( -name '*.wav' -o -name '*.gsm' \) -print0 | while IFS= read -r -d '' f; do
    rel=${f#"$dir"/}
    ln -sf "$f" "$data/speakers/$name/${rel//\//__}"
  done
done
# Music: one link per track, named after it.
find "$data/music-raw" -name '*.wav' -print0 | while IFS= read -r -d '' f; do
  ln -sf "$f" "$data/music/$(basename "$f")"
done
# 16 kHz: each package is a speaker; its .g722 files decoded to WAVs named as above.
for p in "${g722_packages[@]}"; do
  "$python" -m vqdsp.training.g722 "$data/raw16k/$p" "$data/speakers16k/$p" || {
    echo "could not decode $p with $python (needs vqdsp and its train extra; PYTHON=... picks the interpreter)" >&2; exit 1; }
done
echo "corpus ready: $data/speakers ($(find "$data/speakers" -type l | wc -l) files)"
echo "music ready: $data/music ($(find "$data/music" -type l | wc -l) tracks)"
echo "16 kHz corpus ready: $data/speakers16k ($(find "$data/speakers16k" -name '*.wav' | wc -l) files)"
