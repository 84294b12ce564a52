# Sourced by the build and test scripts: make sure .venv exists with the pinned environment.
# Python 3.11 and pip are all that a fresh machine needs; the lock pins torch==2.13.0 (CPU).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
stamp=".venv/.ltdl-lock-$(sha1sum requirements-lock.txt pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[env] setting up .venv from requirements-lock.txt (first run: about a minute)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-lock.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import ltdl, torch, jupyter_book" # fail here if the install did not work
  rm -f .venv/.ltdl-lock-* && touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
# No MPLBACKEND here: notebook kernels must keep the inline backend (stored figure outputs).
export PYTHONHASHSEED=0 OMP_NUM_THREADS=2
