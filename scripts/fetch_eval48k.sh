#!/usr/bin/env bash
# Build the 48 kHz evaluation set of the README's model card in a data folder outside git:
#   DATA_DIR/eval48k/<voice>/     the held-out full-band voices (alsa-utils, hedgewars-Default_uk),
#                                 their clips joined into utterances of 4-6 s (scripts/join_utterances.py)
#   DATA_DIR/eval-music/          five hedgewars music tracks (full band; never in training)
#   DATA_DIR/eval-noise/          21 hedgewars sound effects: explosions, engines, drills, water
#
#   scripts/fetch_eval48k.sh [DATA_DIR]     (default: ./data; run scripts/fetch_fullband.sh DATA_DIR first)
#
# hedgewars-data's music and effects are kept out of training (scripts/fetch_train_noise.sh leaves
# them alone), so these stay unseen conditions. Never add the packages reserved for evaluation (see
# the README's model card).
set -euo pipefail
source "$(dirname "$0")/corpus_env.sh"  # repo, python, data
fetch_packages "$data/fullband-raw" hedgewars-data
for voice in alsa-utils hedgewars-Default_uk; do
  [ -d "$data/fullband/$voice" ] || { echo "no $data/fullband/$voice: run scripts/fetch_fullband.sh $data first" >&2; exit 1; }
done
"$python" "$repo/scripts/join_utterances.py" "$data/fullband/alsa-utils" "$data/fullband/hedgewars-Default_uk" -o "$data/eval48k"
hw=$data/fullband-raw/hedgewars-data/usr/share/games/hedgewars/Data
link() {  # link DEST_DIR SOURCE_DIR NAME...: one link per file, failing on a name the package lacks
  local dest=$1 src=$2 n; shift 2
  mkdir -p "$dest"
  for n in "$@"; do
    [ -f "$src/$n.ogg" ] || { echo "hedgewars-data has no $src/$n.ogg" >&2; exit 1; }
    ln -sfn "$(realpath "$src/$n.ogg")" "$dest/$n.ogg"
  done
}
link "$data/eval-music" "$hw/Music" Art City Freeway Jungle Rock
link "$data/eval-noise" "$hw/Sounds" explosion grenadeimpact mortar melonimpact mineimpact \
  plane rcplane ufo jetpackboost minigun flamethrower blowtorch drillgun pickhammer \
  splash beewater planewater rubberduck_water Droplet1 steam steps
echo "evaluation set ready: $data/eval48k ($(find "$data/eval48k" -name '*.wav' | wc -l) utterances)," \
  "$data/eval-music ($(find "$data/eval-music" -type l | wc -l) tracks), $data/eval-noise ($(find "$data/eval-noise" -type l | wc -l) effects)"
