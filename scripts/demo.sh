#!/usr/bin/env bash
# The main job: set up what the demo needs (no root needed), then run the end-to-end demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
status=0
.venv/bin/edgeproof demo "$@" || status=$?
echo
echo "edgeproof is installed in $PWD/.venv: call it as $PWD/.venv/bin/edgeproof,"
echo "or first: export PATH=\"$PWD/.venv/bin:\$PATH\""
exit "$status"
