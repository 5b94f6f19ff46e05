#!/usr/bin/env bash
# Fetch the 8 kHz speech corpus (Debian's asterisk sound packages: several speakers and
# languages) into a data folder outside git, and lay it out one folder per speaker.
#
#   scripts/fetch_corpus.sh [DATA_DIR]     (default: ./data, ignored by git)
#
# Needs only `apt-get download` and `dpkg -x` (no root install). Users with their own
# recordings skip this and point `vqdsp train` at their folders.
set -euo pipefail
data=$(realpath -m "${1:-data}")
mkdir -p "$data/debs" "$data/raw" "$data/speakers"
packages=(
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav asterisk-prompt-es-co
  asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav
)
cd "$data/debs"
for p in "${packages[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p" || {
    echo "could not download $p (try 'apt-get update' first)" >&2; exit 1; }
done
for deb in *.deb; do
  name=${deb%%_*}
  [ -d "$data/raw/$name" ] || dpkg -x "$deb" "$data/raw/$name"
done
# One folder per speaker (package = voice), holding links to its WAV files.
for dir in "$data/raw"/*; do
  name=$(basename "$dir")
  mkdir -p "$data/speakers/$name"
  find "$dir" \( -name '*.wav' -o -name '*.gsm' \) -print0 | while IFS= read -r -d '' f; do
    rel=${f#"$dir"/}
    ln -sf "$f" "$data/speakers/$name/${rel//\//__}"
  done
done
echo "corpus ready: $data/speakers ($(find "$data/speakers" -type l | wc -l) files)"
