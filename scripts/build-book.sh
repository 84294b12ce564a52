#!/usr/bin/env bash
# Build the whole book: execute every chapter and write _build/html (strict: any warning fails).
source "$(dirname "$0")/_env.sh"
# The claims ledger is generated (never typed): from docs/claims.yml, the stored notebooks (glued
# values, provenance tags of the theorem titles) and the last test reports. A glue key or label that
# a chapter no longer has stops the build here with a message naming it.
python scripts/claims_ledger.py
# The course page (chapters/course.md, git-ignored) is generated too: from the chapters' boxes and metadata.
python scripts/course_page.py
# The quality page is written by the mutation test (step 4 of scripts/test.sh); a build without
# it says so instead of failing on a missing page.
if [ ! -f chapters/quality.md ]; then
  printf '%s\n' '(quality)=' '# Quality: a mutation test of the claims' '' \
    'This page is written by the mutation test of the test command (`bash scripts/test.sh`, or' \
    '`python scripts/mutation_test.py` alone). It has not run in this checkout.' > chapters/quality.md
fi
if [ "${1:-}" = "--stored" ]; then
  # The test command: build from the stored outputs, which nbval and tests/test_provenance.py
  # have just checked against a fresh run of the current code (see scripts/stored_config.py).
  shift
  jupyter-book build . --config "$(python scripts/stored_config.py)" -W -n --keep-going "$@"
  echo
  echo "Book written to: $ROOT/_build/html/index.html"
  exit 0
fi
if [ "${1:-}" = "--student" ]; then
  # The student site: the same pages with every solution removed (scripts/student_site.py writes
  # its configuration; it shows the stored outputs instead of executing the chapters again).
  shift
  jupyter-book build . --config "$(python scripts/student_site.py)" --path-output _build/student-site \
    -W -n --keep-going "$@"
  echo
  echo "Student site (no solutions) written to: $ROOT/_build/student-site/_build/html/index.html"
  exit 0
fi
jupyter-book build . -W -n --keep-going "$@"
echo
echo "Book written to: $ROOT/_build/html/index.html"
echo "Check it as a reader sees it: python -m pytest tests/browser -p no:cacheprovider (screenshots: _build/screenshots)"
