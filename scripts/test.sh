#!/usr/bin/env bash
# Run every test: library unit tests, nbval on every chapter, the strict book build, and the
# checks of the built HTML. `.ci/run` calls exactly this script.
source "$(dirname "$0")/_env.sh"
mkdir -p _build/reports
echo "== 1/3 library tests"
python -m pytest tests -q -p no:cacheprovider --junitxml=_build/reports/unit.xml
echo "== 2/3 notebooks: re-execute every chapter and compare stored outputs (nbval)"
python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg --durations=0 \
  --junitxml=_build/reports/nbval.xml chapters/*.ipynb
echo "== 3/3 strict book build (forced execution, -W -n)"
bash scripts/build-book.sh
echo "ALL TESTS PASSED"
