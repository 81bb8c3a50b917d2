"""Child processes of the rig: free loopback ports, the `edgeproof` command, waiting, stopping.

Why one module: the verifier, the witness, PostgreSQL and pcscd are each started as a real
process bound to 127.0.0.1 on a free port and stopped by PID; the demo, the tests and the
benchmarks all do it the same way through these few functions.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: The checkout (or site-packages) holding rig/, put first on a child's PYTHONPATH so the
#: child runs this very code.
REPO = Path(__file__).resolve().parent.parent
#: The `edgeproof` command in this interpreter.
EDGEPROOF = [sys.executable, "-m", "edgeproof_cli"]


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with REPO first on PYTHONPATH (and `extra` set)."""
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}
    return {**env, **extra}


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


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10.0
) -> None:
    """Stop a child by its PID: SIGTERM, then SIGKILL if it does not go."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def healthy(url: str) -> bool:
    """`GET url/healthz` answered 200 (the verifier's and the witness's readiness check)."""
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
