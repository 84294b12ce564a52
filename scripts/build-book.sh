#!/usr/bin/env bash
# Build the whole book: execute every chapter and write _build/html (strict: any warning fails).
source "$(dirname "$0")/_env.sh"
# The claims ledger is generated (never typed): from the stored notebooks and the last test reports.
python scripts/claims_ledger.py
jupyter-book build . -W -n --keep-going "$@"
echo
echo "Book written to: $ROOT/_build/html/index.html"
