#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the browser checks (tests/browser) and the
# PDF (scripts/build-pdf.sh), and poppler's pdftotext/pdfimages for the PDF check
# (tests/browser/test_pdf.py). Playwright (pip) drives Chromium; no browser is downloaded by
# Playwright. Exits non-zero when either cannot be installed, so that the test step fails instead
# of skipping.
set -euo pipefail
CHROMIUM="${LTDL_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ] && "$CHROMIUM" --version >/dev/null 2>&1 && command -v pdftotext >/dev/null && command -v pdfimages >/dev/null; then
  echo "[browser] $("$CHROMIUM" --version 2>/dev/null)"
  exit 0
fi
source "$(dirname "$0")/_apt.sh"
apt_install browser chromium fonts-dejavu-core poppler-utils # about 30 s
"$CHROMIUM" --version
