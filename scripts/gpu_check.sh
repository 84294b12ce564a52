#!/usr/bin/env bash
# Device checks on a machine with a CUDA GPU (issue 16, item 5): the library tests marked for
# devices, one chapter, and the training benchmark on CUDA. Writes everything under _build/gpu/.
#
#   bash scripts/gpu_check.sh            # needs a CUDA build of torch that sees a GPU
#
# The project's lock pins the CPU wheel of torch; on a GPU machine install the CUDA wheel of the
# same version into the venv first (e.g. `.venv/bin/pip install torch==2.13.0 --index-url
# https://download.pytorch.org/whl/cu128`). The script stops with exit 2 when no GPU is visible,
# so that a CPU machine never reports GPU numbers. Add the benchmark's table, labelled with the
# card, to the GPU section of chapters/performance.md.
source "$(dirname "$0")/_env.sh"
set +e
out=_build/gpu
mkdir -p "$out"
if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "[gpu] no CUDA device visible to torch ($(python -c 'import torch; print(torch.__version__)')): nothing measured"
  exit 2
fi
card="$(python -c 'import torch; print(torch.cuda.get_device_name(0))')"
echo "[gpu] device: $card" | tee "$out/card.txt"
status=0

echo "== 1/3 library tests marked for devices (pytest -m device)"
python -m pytest tests -q -p no:cacheprovider -m device --junitxml="$out/device-tests.xml" || status=1

echo "== 2/3 one chapter (09, the authors' examples) re-executed and compared with its stored outputs"
python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg chapters/09-authors-examples.ipynb || status=1

echo "== 3/3 the training benchmark on CUDA (float32 and float64; one thread on the host)"
timeout 900 python benchmarks/bench_training.py --device cuda --write "$out/performance-cuda.md" || status=1

echo
if [ "$status" -eq 0 ]; then echo "[gpu] ALL DEVICE CHECKS PASSED on $card"; else echo "[gpu] SOME DEVICE CHECKS FAILED on $card"; fi
exit "$status"
