#!/usr/bin/env bash
# Make sure Debian's bubblewrap (bwrap) is installed: scripts/grade.py runs every submission in a
# bwrap sandbox (docs/grading.md, "The sandbox"), and tests/test_grading.py grades a planted class
# with it. Exits non-zero when it cannot be installed, so that the test step fails instead of skipping.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  echo "[sandbox] $(bwrap --version)"
  exit 0
fi
source "$(dirname "$0")/_apt.sh"
apt_install sandbox bubblewrap
bwrap --version
