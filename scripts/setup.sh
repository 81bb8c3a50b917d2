#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian/Ubuntu machine: Debian packages for the test rig
# (only when run as root), then a virtual environment in .venv with the project installed
# in editable mode with every extra but `pi`. Idempotent: a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "setup: edgeproof needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
    exit 1
fi

wanted=$(sed -e 's/#.*//' scripts/apt-packages.txt | tr -s ' \n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=""
    for p in $wanted; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "setup: installing Debian packages:$missing"
        apt-get update -qq
        # shellcheck disable=SC2086  # one word per package, on purpose
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
else
    echo "setup: not root; skipping Debian packages. Tests that need missing ones will be skipped."
fi
# pyscard and tpm2-pytss build from source against these headers: without them pip fails
# with a compiler error, so say what is missing instead.
for p in libpcsclite-dev libtss2-dev; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        echo "setup: the Debian package $p is needed to build the Python dependencies;" >&2
        echo "       run this script as root, or: sudo apt-get install $p" >&2
        exit 1
    fi
done

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.edgeproof-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[edge,verifier,test]'
    touch "$stamp"
fi
