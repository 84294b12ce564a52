#!/usr/bin/env bash
# Lint, format check, type check and workflow schema check (pinned in requirements-lock.txt).
# Run alone with `bash scripts/lint.sh`; the test command runs it first. Fix formatting with
# `.venv/bin/ruff format . && .venv/bin/ruff check --fix .`.
source "$(dirname "$0")/_env.sh"
status=0
echo "-- ruff check";        ruff check . || status=1
echo "-- ruff format --check"; ruff format --check . || status=1
echo "-- mypy";              mypy || status=1
echo "-- workflow schema";   check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml || status=1
exit "$status"
