#!/usr/bin/env bash
# Make sure Debian's bubblewrap (bwrap) is installed: scripts/grade.py runs every submission in a
# bwrap sandbox (docs/grading.md, "The sandbox"), and tests/test_grading.py grades a planted class
# with it. Exits non-zero when it cannot be installed, so that the test step fails instead of skipping.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  echo "[sandbox] $(bwrap --version)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[sandbox] need root or sudo to install bubblewrap" >&2; exit 1; }
  SUDO="sudo"
fi
command -v apt-get >/dev/null || { echo "[sandbox] no apt-get: install bubblewrap (bwrap) by hand" >&2; exit 1; }
echo "[sandbox] installing Debian package bubblewrap"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null
bwrap --version
