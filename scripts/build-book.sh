#!/usr/bin/env bash
# Build the whole book: execute every chapter and write _build/html (strict: any warning fails).
source "$(dirname "$0")/_env.sh"
jupyter-book build . -W -n --keep-going "$@"
echo
echo "Book written to: $ROOT/_build/html/index.html"
