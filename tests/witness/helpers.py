"""Witnesses for tests: the rig's `WitnessProc` (rig/witness.py, shared with the demo and the
benchmarks), and the command line run with a bare environment."""

from __future__ import annotations

import subprocess

from rig import witness
from rig.proc import EDGEPROOF, REPO
from rig.verifier import VerifierServer
from rig.witness import ORIGIN, WitnessProc

__all__ = ["ORIGIN", "WitnessProc", "configure_witnesses", "run_cli"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*EDGEPROOF, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def configure_witnesses(
    server: VerifierServer, witnesses: list[WitnessProc], interval_ms: int = 1000
) -> None:
    """Name the witnesses in an initialised (not yet started) verifier's configuration."""
    witness.configure_witnesses(server.config, witnesses, interval_ms)
