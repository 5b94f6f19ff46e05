#!/usr/bin/env bash
# Fetch full-band training noise (44.1/48 kHz game sound effects and music from Debian packages) into
# a data folder outside git: DATA_DIR/train-noise/ (effects, for `vqdsp train --noise-dir`) and
# DATA_DIR/train-music/ (music, for `--music-dir`), one link per file.
#
#   scripts/fetch_train_noise.sh [DATA_DIR]     (default: ./data, ignored by git)
#
# Sources: supertux-data, extremetuxracer-data, frozen-bubble-data, chromium-bsu-data, pingus-data.
# Files with speech in them (supertux's speech/, pingus' voice lines) are left out: they would teach
# the model to remove speech. hedgewars-data's music and effects are NOT used here: the 48 kHz
# evaluation draws its music and recorded noise from them, so they stay unseen. Never add the
# packages reserved for evaluation (see the README's model card).
set -euo pipefail
source "$(dirname "$0")/corpus_env.sh"  # repo, python, data
packages=(supertux-data extremetuxracer-data frozen-bubble-data chromium-bsu-data pingus-data)
mkdir -p "$data/debs" "$data/noise-raw" "$data/train-noise" "$data/train-music"
fetch_packages "$data/noise-raw" "${packages[@]}"
raw=$data/noise-raw
link() { for f in "$@"; do [ -f "$f" ] && ln -sfn "$(realpath "$f")" "$dest/$(basename "$(dirname "$f")")-$(basename "$f")"; done; }
dest=$data/train-noise
link "$raw"/supertux-data/usr/share/games/supertux2/sounds/*.{wav,ogg}
link "$raw"/extremetuxracer-data/usr/share/games/etr/sounds/*.wav
link "$raw"/chromium-bsu-data/usr/share/games/chromium-bsu/wav/{boom,explo*,life_*,power}.wav
for n in applause typewriter snore destroy_group launch rebound stick malus newroot newroot_solo hurry lose pause noh chatted cancel menu_change menu_selected; do
  link "$raw/frozen-bubble-data/usr/share/games/frozen-bubble/snd/$n.ogg"
done
for n in digger splash plop plop2 chink ting tick; do link "$raw/pingus-data/usr/share/games/pingus/data/sounds/$n.wav"; done
rm -f "$dest/sounds-empty.wav"  # a few samples of silence
dest=$data/train-music
link "$raw"/supertux-data/usr/share/games/supertux2/music/*/*.ogg
link "$raw"/extremetuxracer-data/usr/share/games/etr/music/*.ogg
link "$raw"/chromium-bsu-data/usr/share/games/chromium-bsu/wav/music_*.wav
for n in frozen-mainzik-1p frozen-mainzik-2p introzik; do link "$raw/frozen-bubble-data/usr/share/games/frozen-bubble/snd/$n.ogg"; done
echo "training noise ready: $data/train-noise ($(find "$data/train-noise" -type l | wc -l) effects), $data/train-music ($(find "$data/train-music" -type l | wc -l) tracks)"
