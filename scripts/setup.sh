#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian/Ubuntu machine: Debian packages (only when run as
# root), then a virtual environment in .venv with the project installed in editable mode.
#   bash scripts/setup.sh demo   what `edgeproof demo` needs: the [demo] extra; pcscd, vpcd
#                                and pyscard only if they can be had (else the demo reads
#                                its passports in-process). Works without root.
#   bash scripts/setup.sh test   everything the test suite needs (the default): every Debian
#                                package in scripts/apt-packages.txt, [edge,pcsc,verifier,test].
# Idempotent: a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
case "$mode" in
demo | test) ;;
*)
    echo "setup: unknown mode '$mode' (use demo or test)" >&2
    exit 2
    ;;
esac

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "setup: edgeproof needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
    exit 1
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if [ "$mode" = demo ]; then
    wanted="pcscd libpcsclite-dev vsmartcard-vpcd"
else
    wanted=$(sed -e 's/#.*//' scripts/apt-packages.txt | tr -s ' \n' ' ')
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=""
    for p in $wanted; do
        installed "$p" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "setup: installing Debian packages:$missing"
        apt-get update -qq
        # shellcheck disable=SC2086  # one word per package, on purpose
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
elif [ "$mode" = demo ]; then
    echo "setup: not root: no Debian packages; the demo serves its test passports with its"
    echo "       in-process reader unless pcscd, vpcd and libpcsclite-dev are installed"
else
    echo "setup: not root; skipping Debian packages. Tests that need missing ones will be skipped."
fi

extras="demo"
if [ "$mode" = test ]; then
    # pyscard and tpm2-pytss build from source against these headers: without them pip
    # fails with a compiler error, so say what is missing instead.
    for p in libpcsclite-dev libtss2-dev; do
        if ! installed "$p"; then
            echo "setup: the Debian package $p is needed to build the Python dependencies;" >&2
            echo "       run this script as root, or: sudo apt-get install $p" >&2
            exit 1
        fi
    done
    extras="edge,pcsc,verifier,test"
elif installed libpcsclite-dev; then
    extras="demo,pcsc"
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.edgeproof-installed-$mode
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing Python packages [$extras] into .venv (about a minute the first time)"
    # --no-compile: Python compiles what the demo imports, on first use, instead of every
    # file of every package now.
    .venv/bin/python -m pip install --disable-pip-version-check --no-compile -e ".[$extras]"
    touch "$stamp"
fi

# The test suite also checks results with npm's `jose` (tests/attest/js, versions pinned in
# its package-lock.json): Node.js from the machine or Debian's nodejs and npm.
if [ "$mode" = test ]; then
    if command -v npm >/dev/null; then
        if [ ! -d tests/attest/js/node_modules ] \
            || [ tests/attest/js/package-lock.json -nt tests/attest/js/node_modules ]; then
            echo "setup: installing tests/attest/js (npm ci)"
            npm ci --prefix tests/attest/js --no-audit --no-fund --loglevel=error
            touch tests/attest/js/node_modules
        fi
    else
        echo "setup: npm not found; the npm jose interop test will be skipped (failed in CI)"
    fi
fi
