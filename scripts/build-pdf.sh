#!/usr/bin/env bash
# The whole book as one PDF: _build/pdf/book.pdf, also copied to _build/html/book.pdf (the "PDF"
# link at the top of every page). Jupyter Book 1 writes the book as one HTML page (Sphinx's
# singlehtml builder, as its pdfhtml builder does; _ext/ltdl_pdf.py lets sphinx-proof's nodes and
# the widgets into that page), then scripts/print_pdf.py prints it with Debian's Chromium once the
# math is typeset and every explorer shows its first frame (pdfhtml's own print step does not wait
# for MathJax, and its PDF shows raw TeX). Offline: nothing is downloaded, no request leaves the
# machine.
#
#   bash scripts/build-pdf.sh            # from the stored outputs (what the test command checked)
#   bash scripts/build-pdf.sh --execute  # execute every chapter again (as build-book.sh does)
source "$(dirname "$0")/_env.sh"
bash scripts/install_browser.sh >/dev/null
# The generated pages the HTML build also needs (see build-book.sh).
python scripts/claims_ledger.py
python scripts/course_page.py
[ -f chapters/quality.md ] || printf '%s\n' '(quality)=' '# Quality: a mutation test of the claims' '' \
  'This page is written by the mutation test of the test command. It has not run in this checkout.' > chapters/quality.md
config=()
if [ "${1:-}" = "--execute" ]; then shift; else config=(--config "$(python scripts/stored_config.py --out _build/config-pdf)"); fi
start=$(date +%s)
rm -rf _build/pdf-build
jupyter-book build . --builder singlehtml "${config[@]}" --path-output _build/pdf-build -W -n --keep-going "$@"
python scripts/print_pdf.py _build/pdf-build/_build/singlehtml/index.html _build/pdf/book.pdf
if [ -d _build/html ]; then cp _build/pdf/book.pdf _build/html/book.pdf; fi
echo "PDF written to: $ROOT/_build/pdf/book.pdf ($(( $(date +%s) - start )) s)"
