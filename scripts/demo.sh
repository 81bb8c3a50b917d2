#!/usr/bin/env bash
# The main job: setup, then the end-to-end demo on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/edgeproof demo "$@"
