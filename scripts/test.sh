#!/usr/bin/env bash
# The whole test suite, as CI runs it: setup, lint (ruff), types (mypy), tests (pytest).
# In CI (CI=true) every rig component must be present: tests that would skip for a missing
# pcscd, PostgreSQL, ... fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
if [ "${CI:-}" = "true" ]; then export EDGEPROOF_REQUIRE_RIG=1; fi

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== pytest"
pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup "$@"
