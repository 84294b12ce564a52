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
# chapter a second time; the student edition's test (tests/test_student_edition.py) checks that a
# student kernel runs the same code as nbval and executes one chapter only.
# `bash scripts/build-book.sh` alone still executes every chapter.
#
# Steps run at the same time where neither needs the other's result, in three phases:
#   1. the unit tests (on two workers), nbval (two halves of the chapters) and the mutation test:
#      these keep both cores busy;
#   2. the full build, which needs their reports and the Quality page, and beside it the student
#      site's build and checks: a Sphinx build uses one core. Lint (1) and the student edition and
#      assignments (7) need nothing and nothing needs them: they start here too, at a lower priority,
#      on the core the builds leave idle (in phase 1 there is none);
#   3. once the full site is built, its browser checks, in two halves (Chromium on one page keeps
#      about one core busy, two halves keep both).
# Each step's output goes to _build/reports/logs/ and is printed whole, in step order, with the
# step's own time and CPU time; one line tells when each step ends.
source "$(dirname "$0")/_env.sh"
# One thread per process: the steps below already keep both cores busy, so a second OpenMP thread
# only waits for a core, spinning. Measured with the two cores busy (2026-12-06): tests/test_examples.py
# took 34 s wall and 32 s CPU with two threads, 13 s and 15 s with one. The chapters set one thread
# themselves (ltdl.notebook.setup_chapter); no stored number depends on it.
export OMP_NUM_THREADS=1
export LOGS=_build/reports/logs
rm -rf _build/reports && mkdir -p "$LOGS"
status=0
started=$(date +%s)
declare -A pid title short
# Each background step runs in its own process group, so that an interrupted run stops all of them.
set -m
trap 'for p in "${pid[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done; exit 130' INT TERM

lint() { bash scripts/lint.sh; }
unit() { # on two workers (pytest-xdist), a test file per worker at a time: otherwise this step ran
  # alone for its last ~170 s on one core, after nbval and the mutation test had ended (2026-12-06)
  python -m pytest tests -q -p no:cacheprovider --ignore=tests/browser -n 2 --dist loadfile --durations=10 \
    --junitxml=_build/reports/unit.xml
}
nbval_half() { # nbval on every other chapter, from the first (0) or the second (1): similar times
  local k=0 books=()
  for nb in chapters/*.ipynb; do
    if [ $((k % 2)) -eq "$1" ]; then books+=("$nb"); fi
    k=$((k + 1))
  done
  # Another arithmetic path than the one that stored the outputs (scripts/refresh_chapters.py uses
  # the default): MKL's code path for any x86-64 CPU and every solve started ~1e-12 away (ltdl.perturb).
  # A shown number that depends on the CPU's rounding then fails here, on any single machine.
  MKL_CBWR=COMPATIBLE LTDL_PERTURB=1e-12 LTDL_PERTURB_SEED=1 \
    python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
    --nbval-sanitize-with tests/nbval_sanitize.cfg --durations=10 \
    --junitxml="_build/reports/nbval-$1.xml" "${books[@]}"
}
nbval0() { nbval_half 0; }
nbval1() { nbval_half 1; }
# The page goes to chapters/quality.md once step 2 is over (step 2 reads the chapters' pages).
mutation() { python scripts/mutation_test.py --page "$LOGS/quality.md"; }
build() { bash scripts/build-book.sh --stored && bash scripts/build-pdf.sh; } # the site, then the whole book as one PDF
install_browser() { bash scripts/install_browser.sh; } # once: two apt-get runs would collide
browser_half() { # the browser checks of the full site, pages split in two (tests/browser/conftest.py)
  LTDL_BROWSER_SHARD="$1/2" python -m pytest tests/browser -q -p no:cacheprovider \
    --ignore=tests/browser/test_classroom.py --junitxml="_build/reports/browser-$1.xml"
}
browser0() { browser_half 0; }
browser1() { browser_half 1; }
student_site() {
  local s=0
  bash scripts/build-book.sh --student || s=1 # the student site: no solution at all
  python -m pytest tests/browser/test_classroom.py -q -p no:cacheprovider \
    --junitxml=_build/reports/browser-classroom.xml || s=1
  return "$s"
}
classroom() {
  local s=0
  python scripts/student_edition.py || s=1
  python scripts/make_assignments.py || s=1 # assignments + autograder (nbgrader)
  python scripts/launch.py --check || s=1   # launch buttons and setup cells from one URL
  return "$s"
}
budget() { # judged on the run times stored with the chapters; nbval's times (under load) are shown too
  python scripts/check_time_budget.py --stored-times --notebooks chapters/[0-9][0-9]-*.ipynb || return 1
  echo "nbval's times in this run, which shared the 2 cores with steps 2 and 4 (information only):"
  python scripts/check_time_budget.py _build/reports/nbval.xml --chapter-limit 1e9 --total-limit 1e9 | head -n -1
}

title[lint]="1/7 lint, format, types and workflow schema (scripts/lint.sh)"
title[unit]="2/7 library tests (including: stored outputs come from the current code, no typed numbers)"
title[nbval0]="3/7 notebooks: re-execute every chapter and compare the stored outputs (nbval), first half"
title[nbval1]="3/7 nbval, second half"
title[mutation]="4/7 mutation test: every curated mutant of ltdl/ must be killed (writes chapters/quality.md)"
title[build]="5/7 strict book build from the checked notebooks (-W -n; regenerates the claims ledger), then the PDF"
title[install_browser]="6/7 Chromium for the browser checks (scripts/install_browser.sh)"
title[browser0]="6/7 the built HTML in headless Chromium, network blocked, first half of the pages"
title[browser1]="6/7 the built HTML in headless Chromium, second half of the pages"
title[student_site]="5/7 and 6/7 the student site (-W -n; no solution at all) and the solutions in Chromium"
title[classroom]="7/7 student edition, assignments, launch wiring"
title[budget]="7/7 time budget (each chapter's run time as stored with it; step 3's times under load for information)"
ORDER=(lint unit nbval0 nbval1 mutation build install_browser browser0 browser1 student_site classroom budget)
short=([lint]="1/7 lint" [unit]="2/7 unit tests" [nbval0]="3/7 nbval, first half"
  [nbval1]="3/7 nbval, second half" [mutation]="4/7 mutation test" [build]="5/7 book build"
  [install_browser]="6/7 Chromium" [browser0]="6/7 browser checks, first half"
  [browser1]="6/7 browser checks, second half" [student_site]="5-6/7 student site"
  [classroom]="7/7 student edition" [budget]="7/7 time budget")

# start NAME [nice]: run the function NAME in the background; output, time and exit status in $LOGS/NAME.*
start() {
  local name=$1 prio=${2:-0}
  (
    set +e
    t0=$(date +%s)
    nice -n "$prio" bash -c "$(declare -f); $name"
    rc=$?
    echo "$(($(date +%s) - t0))" >"$LOGS/$name.seconds"
    # CPU seconds (user + system) of everything the step ran: bash's `times`, second line (children)
    # (into a file first: `times` in a pipeline would report the pipeline's subshell)
    times >"$LOGS/$name.times"
    awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.0f\n", 60 * (u[1] + s[1]) + u[2] + s[2] }' \
      "$LOGS/$name.times" >"$LOGS/$name.cpu"
    date +%s >"$LOGS/$name.end"
    echo "$rc" >"$LOGS/$name.rc"
    exit "$rc"
  ) >"$LOGS/$name.log" 2>&1 &
  pid[$name]=$!
}
# finish NAME...: wait for the steps and say how each ended, and when (seconds since the start)
finish() {
  local name rc
  for name in "$@"; do
    rc=0
    wait "${pid[$name]}" || rc=$?
    [ "$rc" -eq 0 ] || status=1
    printf '[%4d s] %s: %s\n' "$(($(cat "$LOGS/$name.end" 2>/dev/null || date +%s) - started))" "${short[$name]}" \
      "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED ($rc)")"
  done
}

bash scripts/install_sandbox.sh || status=1 # bubblewrap for the graded planted class (tests/test_grading.py); apt-get: before the Chromium install
echo "phase 1: steps 2, 3 and 4 at the same time; 2: step 5 beside the student site, 1 and 7; 3: step 6 in two halves (logs: $LOGS/)"
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # the machine's, in clock ticks
busy0=$(cpu_busy)
start unit
start nbval0
start nbval1
start mutation
start install_browser
finish unit nbval0 nbval1 mutation install_browser
# One nbval report for the claims ledger and the time budget (a half that wrote none failed above).
python - _build/reports/nbval.xml _build/reports/nbval-0.xml _build/reports/nbval-1.xml <<'EOF' || status=1
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

out, *parts = sys.argv[1:]
merged = ET.Element("testsuites")
for part in parts:
    if Path(part).is_file():
        merged.extend(ET.parse(part).getroot().iter("testsuite"))
ET.ElementTree(merged).write(out, encoding="utf-8", xml_declaration=True)
EOF
if [ -f "$LOGS/quality.md" ]; then mv "$LOGS/quality.md" chapters/quality.md; fi
start build
start student_site
start lint 10
start classroom 10
start budget
finish build
start browser0
start browser1
finish budget browser0 browser1 student_site lint classroom

for name in "${ORDER[@]}"; do
  echo
  echo "== ${title[$name]} ($(cat "$LOGS/$name.seconds") s, CPU $(cat "$LOGS/$name.cpu") s)"
  cat "$LOGS/$name.log"
  [ "$(cat "$LOGS/$name.rc")" -eq 0 ] || echo "-- FAILED (exit status $(cat "$LOGS/$name.rc"))"
done

# The timings for the Performance page (benchmarks/bench_training.py reads them): per step its
# wall time and when it ended; the total; the CPU time of every step (bash's `times`: this shell,
# then all the processes it waited for).
{
  printf 'step\tseconds\tended_at\trc\tcpu_seconds\n'
  for name in "${ORDER[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\n' "${short[$name]}" "$(cat "$LOGS/$name.seconds")" \
      "$(($(cat "$LOGS/$name.end") - started))" "$(cat "$LOGS/$name.rc")" "$(cat "$LOGS/$name.cpu")"
  done
} >"$LOGS/steps.tsv"
echo "$(($(date +%s) - started))" >"$LOGS/total.seconds"
times >"$LOGS/times.txt"
# CPU seconds of the whole machine during the run: includes what `times` cannot see (Chromium's
# processes are not children that the steps wait for)
echo "$((($(cpu_busy) - busy0) / $(getconf CLK_TCK)))" >"$LOGS/machine_cpu.seconds"
echo
echo "test command took $(($(date +%s) - started)) s"
if [ "$status" -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "SOME TESTS FAILED (see above)"; fi
exit "$status"
