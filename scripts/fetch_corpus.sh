#!/usr/bin/env bash
# Fetch the 8 kHz speech corpus (Debian's asterisk sound packages: several speakers and
# languages) into a data folder outside git, and lay it out one folder per speaker; also
# fetch music on hold (asterisk-moh-opsound-wav) for music noise, one file per track.
#
#   scripts/fetch_corpus.sh [DATA_DIR]     (default: ./data, ignored by git)
#
# Needs only `apt-get download` and `dpkg -x` (no root install). Users with their own
# recordings skip this and point `vqdsp train` at their folders.
set -euo pipefail
data=$(realpath -m "${1:-data}")
mkdir -p "$data/debs" "$data/raw" "$data/speakers" "$data/music-raw" "$data/music"
packages=(
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav asterisk-prompt-es-co
  asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav
)
music_packages=(asterisk-moh-opsound-wav)
cd "$data/debs"
for p in "${packages[@]}" "${music_packages[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p" || {
    echo "could not download $p (try 'apt-get update' first)" >&2; exit 1; }
done
extract() {  # extract PACKAGE into FOLDER/PACKAGE once
  local deb
  deb=$(ls "${1}"_*.deb | head -n 1)
  [ -d "$2/$1" ] || dpkg -x "$deb" "$2/$1"
}
for p in "${packages[@]}"; do extract "$p" "$data/raw"; done
for p in "${music_packages[@]}"; do extract "$p" "$data/music-raw"; done
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
echo "corpus ready: $data/speakers ($(find "$data/speakers" -type l | wc -l) files)"
echo "music ready: $data/music ($(find "$data/music" -type l | wc -l) tracks)"
