"""Shared helpers for tests that drive real components (pcscd, PostgreSQL, gunicorn, ...).

The components themselves are started by the rig package (rig/); this module adds what
only a test needs.

A test that needs a rig component calls `require(...)`: locally a missing component skips
the test with the reason; in CI (EDGEPROOF_REQUIRE_RIG=1, set by scripts/test.sh when
CI=true) it fails instead, so a missing install step can never turn into a silent green.
"""

from __future__ import annotations

import os
import shutil

import pytest

# The process helpers live in the rig (the demo and the benchmarks use them too); tests keep
# importing them from here.
from rig.proc import REPO, free_port, stop_process, wait_for

__all__ = ["REPO", "free_port", "require", "require_binary", "stop_process", "wait_for"]


def require(ok: bool, what: str) -> None:
    """Skip (locally) or fail (in CI) when a rig component is missing."""
    if ok:
        return
    if os.environ.get("EDGEPROOF_REQUIRE_RIG") == "1":
        pytest.fail(f"rig component missing in CI: {what}")
    pytest.skip(f"rig component missing: {what}")


def require_binary(name: str, *extra_dirs: str) -> str:
    """Path of an executable on PATH or in `extra_dirs`, or skip/fail."""
    found = shutil.which(name)
    for d in extra_dirs:
        if found is None and os.access(os.path.join(d, name), os.X_OK):
            found = os.path.join(d, name)
    require(found is not None, f"executable {name!r}")
    assert found is not None
    return found
