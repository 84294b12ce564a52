#!/usr/bin/env bash
# Run every test: lint and types, library unit tests, nbval on every chapter, the mutation test,
# the strict book build, the browser checks of the built HTML, the student edition and the time
# budget. `.ci/run` calls exactly this script. A failing step does not stop the later ones (so that
# the claims ledger can show the failure in red); the script exits non-zero if any step failed.
#
# Each chapter executes once: nbval runs it top to bottom and compares every stored text output
# with the fresh one, and tests/test_provenance.py (step 2) requires the stored outputs to come from
# the current code (content hashes of ltdl/ and of the chapter's code cells, recorded by the
# chapter's provenance cell). Together they make the stored notebooks a faithful record of a run of
# the committed code, so the book is then built from them (`--stored`) instead of executing every
# chapter a second time. `bash scripts/build-book.sh` alone still executes every chapter.
source "$(dirname "$0")/_env.sh"
rm -rf _build/reports && mkdir -p _build/reports
status=0
step() { echo; echo "== $*"; }
started=$(date +%s)

step "1/7 lint, format, types and workflow schema (scripts/lint.sh)"
bash scripts/lint.sh || status=1

step "2/7 library tests (including: stored outputs come from the current code, no typed numbers)"
python -m pytest tests -q -p no:cacheprovider --ignore=tests/browser \
  --junitxml=_build/reports/unit.xml || status=1

step "3/7 notebooks: re-execute every chapter and compare the stored outputs (nbval)"
python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg --durations=0 \
  --junitxml=_build/reports/nbval.xml chapters/*.ipynb || status=1

step "4/7 mutation test: every curated mutant of ltdl/ must be killed (writes chapters/quality.md)"
python scripts/mutation_test.py || status=1

step "5/7 strict book build from the checked notebooks, and the student site (-W -n; regenerates the claims ledger)"
bash scripts/build-book.sh --stored || status=1
bash scripts/build-book.sh --student || status=1   # the student site: no solution at all

step "6/7 the built HTML in headless Chromium, network blocked"
bash scripts/install_browser.sh || status=1
python -m pytest tests/browser -q -p no:cacheprovider --junitxml=_build/reports/browser.xml || status=1

step "7/7 student edition, assignments, launch wiring and time budget"
python scripts/student_edition.py || status=1
python scripts/make_assignments.py || status=1   # assignments + autograder (nbgrader)
python scripts/launch.py --check || status=1     # launch buttons and setup cells from one URL
python scripts/check_time_budget.py _build/reports/nbval.xml \
  --notebooks chapters/[0-9][0-9]-*.ipynb || status=1

echo
echo "test command took $(( $(date +%s) - started )) s"
if [ "$status" -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "SOME TESTS FAILED (see above)"; fi
exit "$status"
