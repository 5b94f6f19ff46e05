# Sourced by the fetch scripts: the repository, the Python that runs vqdsp (the repository's .venv, or
# $PYTHON, else python3) and the data folder (the script's first argument, default ./data).
repo=$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python=$repo/.venv/bin/python; else python=python3; fi
fi
data=$(realpath -m "${1:-data}")
