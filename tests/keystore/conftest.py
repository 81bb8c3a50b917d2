"""A real software TPM 2.0 (Debian's swtpm) per test, on loopback, stopped by PID."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rig import free_port, require, require_binary, stop_process, wait_for


@dataclass
class SoftwareTpm:
    """One swtpm process over a state folder; `restart` keeps the state (the TPM's seeds)."""

    state: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def start(self) -> None:
        swtpm = require_binary("swtpm")
        self.port = _port_pair()
        ctrl = self.port + 1  # the swtpm TCTI expects the control channel on port + 1
        self.proc = subprocess.Popen(
            [
                swtpm,
                "socket",
                "--tpm2",
                "--tpmstate",
                f"dir={self.state}",
                "--server",
                f"type=tcp,port={self.port},bindaddr=127.0.0.1",
                "--ctrl",
                f"type=tcp,port={ctrl},bindaddr=127.0.0.1",
                "--flags",
                "not-need-init,startup-clear",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def accepting() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"swtpm exited: {err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return False
            return True

        wait_for(accepting, 10, "swtpm to accept connections")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _port_pair() -> int:
    """A free port P on 127.0.0.1 whose neighbour P + 1 is free too."""
    for _ in range(50):
        port = free_port()
        if port >= 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


def _make(tmp_path: Path, name: str) -> SoftwareTpm:
    require(importlib.util.find_spec("tpm2_pytss") is not None, "Python package tpm2-pytss")
    state = tmp_path / name
    state.mkdir()
    tpm = SoftwareTpm(state)
    tpm.start()
    return tpm


@pytest.fixture
def swtpm(tmp_path: Path) -> Iterator[SoftwareTpm]:
    tpm = _make(tmp_path, "tpm-state")
    try:
        yield tpm
    finally:
        tpm.stop()


@pytest.fixture
def other_swtpm(tmp_path: Path) -> Iterator[SoftwareTpm]:
    """A second, unrelated TPM (its own seeds)."""
    tpm = _make(tmp_path, "other-tpm-state")
    try:
        yield tpm
    finally:
        tpm.stop()
