# Sourced by the build and test scripts: make sure .venv exists with the pinned environment.
# Python 3.11 and pip are all that a fresh machine needs; the lock pins torch==2.13.0, installed
# as the CPU build unless an NVIDIA GPU is found (LTDL_TORCH_CPU, below).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
stamp=".venv/.ltdl-lock-$(sha1sum requirements-lock.txt pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[env] setting up .venv from requirements-lock.txt (first run: a few minutes, about 450 MB to download)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  # torch: the CPU build (about 190 MB) unless this machine has an NVIDIA GPU. From the public
  # package index alone, the pinned torch resolves to the CUDA build on Linux (several GB with its
  # NVIDIA libraries), which the book does not need. LTDL_TORCH_CPU=1 forces the CPU build,
  # LTDL_TORCH_CPU=0 leaves the choice to pip (e.g. CUDA on a GPU machine).
  case "${LTDL_TORCH_CPU:-auto}" in
    auto) if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then cpu=0; else cpu=1; fi ;;
    0 | 1) cpu="$LTDL_TORCH_CPU" ;;
    *) echo "[env] LTDL_TORCH_CPU must be 0, 1 or unset (auto), got '$LTDL_TORCH_CPU'" >&2 && exit 2 ;;
  esac
  if [ "$cpu" = 1 ]; then # torch alone from the CPU index; its dependencies come with the lock below
    torch_pin="$(grep -E '^torch==' requirements-lock.txt)"
    echo "[env] $torch_pin, CPU build (PyTorch's CPU-only wheel index; LTDL_TORCH_CPU=0 to let pip choose)"
    .venv/bin/pip install -q --disable-pip-version-check --no-deps --retries 1 --timeout 15 \
      --index-url https://download.pytorch.org/whl/cpu "$torch_pin" 2>&1 | grep -v "^WARNING: \(Location\|Retrying\)" || true
  fi
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-lock.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
  if [ "$cpu" = 1 ] && ! .venv/bin/python -c "import sys, torch; sys.exit(torch.version.cuda is not None)"; then
    echo "[env] torch is not the CPU build (was the CPU wheel index reachable?); remove .venv and retry," \
      "or set LTDL_TORCH_CPU=0 to keep pip's default build" >&2
    exit 2
  fi
  .venv/bin/python -c "import ltdl, torch, jupyter_book" # fail here if the install did not work
  rm -f .venv/.ltdl-lock-* && touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
# No MPLBACKEND here: notebook kernels must keep the inline backend (stored figure outputs).
export PYTHONHASHSEED=0 OMP_NUM_THREADS=2
