#!/usr/bin/env bash
# Run every test: library unit tests, nbval on every chapter, the claims ledger, the strict book
# build, the browser checks of the built HTML, the student edition and the time budget.
# `.ci/run` calls exactly this script. A failing step does not stop the later ones (so that the
# claims ledger can show the failure in red); the script exits non-zero if any step failed.
source "$(dirname "$0")/_env.sh"
rm -rf _build/reports && mkdir -p _build/reports
status=0
step() { echo; echo "== $*"; }

step "1/5 library tests"
python -m pytest tests -q -p no:cacheprovider --ignore=tests/browser \
  --junitxml=_build/reports/unit.xml || status=1

step "2/5 notebooks: re-execute every chapter and compare the stored outputs (nbval)"
python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg --durations=0 \
  --junitxml=_build/reports/nbval.xml chapters/*.ipynb || status=1

step "3/5 strict book build (forced execution, -W -n; regenerates the claims ledger from the reports)"
bash scripts/build-book.sh || status=1

step "4/5 the built HTML in headless Chromium, network blocked"
bash scripts/install_browser.sh || status=1
python -m pytest tests/browser -q -p no:cacheprovider --junitxml=_build/reports/browser.xml || status=1

step "5/5 student edition and time budget"
python scripts/student_edition.py || status=1
python scripts/check_time_budget.py _build/reports/nbval.xml \
  --sphinx-env _build/.doctrees/environment.pickle || status=1

echo
if [ "$status" -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "SOME TESTS FAILED (see above)"; fi
exit "$status"
