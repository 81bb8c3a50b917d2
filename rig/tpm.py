"""A real software TPM 2.0 (Debian's swtpm) on loopback, stopped by PID.

Why in the rig: the keystore's tests and the device service's tests both need a TPM that
can be started, restarted with its seeds kept, and stopped (a TPM that goes away).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rig.proc import free_port, stop_process, wait_for


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
        swtpm = shutil.which("swtpm")
        if swtpm is None:
            raise RuntimeError("swtpm is not installed (Debian package swtpm)")
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
