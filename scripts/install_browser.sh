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
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[browser] need root or sudo to install chromium" >&2; exit 1; }
  SUDO="sudo"
fi
command -v apt-get >/dev/null || { echo "[browser] no apt-get: install Chromium at $CHROMIUM by hand" >&2; exit 1; }
echo "[browser] installing Debian packages chromium and poppler-utils (about 30 s)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core poppler-utils >/dev/null
"$CHROMIUM" --version
