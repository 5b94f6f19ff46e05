# Sourced by the fetch scripts: the repository, the Python that runs vqdsp (the repository's .venv, or
# $PYTHON, else python3) and the data folder (the script's first argument, default ./data).
repo=$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python=$repo/.venv/bin/python; else python=python3; fi
fi
data=$(realpath -m "${1:-data}")

# fetch_packages RAW_DIR PACKAGE...: download each package's .deb into $data/debs (once) and extract it
# into RAW_DIR/PACKAGE, beside it first, so a cut run leaves no half folder behind.
fetch_packages() {
  local raw=$1 p; shift
  mkdir -p "$data/debs" "$raw"
  for p in "$@"; do
    (cd "$data/debs" && { ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p"; }) || {
      echo "could not download $p (try 'apt-get update' first)" >&2; exit 1; }
  done
  for p in "$@"; do
    [ -d "$raw/$p" ] && continue
    rm -rf "$raw/.$p.partial"
    dpkg -x "$(ls "$data/debs/${p}"_*.deb | head -n 1)" "$raw/.$p.partial"
    mv "$raw/.$p.partial" "$raw/$p"
  done
}
