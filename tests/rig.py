"""Shared helpers for tests that drive real components (pcscd, PostgreSQL, gunicorn, ...).

A test that needs a rig component calls `require(...)`: locally a missing component skips
the test with the reason; in CI (EDGEPROOF_REQUIRE_RIG=1, set by scripts/test.sh when
CI=true) it fails instead, so a missing install step can never turn into a silent green.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until true or fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child by its PID: SIGTERM, then SIGKILL if it does not go."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
