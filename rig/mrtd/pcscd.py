"""Run Debian's pcscd against the emulator: the chip rig for tests, the benchmark and the demo.

Constraints found on these machines (see vpcd.py and docs/passport.md):
- one pcscd per machine (its socket path is fixed) and fixed vpcd ports (35963/35964), so an
  exclusive file lock serialises rig users (pytest-xdist workers, benchmark, demo);
- pcscd reads a private reader.conf folder (`-c DIR`) so vpcd dials only 127.0.0.1;
- the emulator must listen before pcscd starts, and a dropped vpcd link kills pcscd, so
  `PcscRig.insert` restarts pcscd after a "card removed" fault.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.mrtd.errors import TransportError
from rig.mrtd.card import EmulatedChip
from rig.mrtd.vpcd import VpcdServer
from rig.proc import stop_process, wait_for

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
PCSCD_SOCKET = "/run/pcscd/pcscd.comm"
LOCK_PATH = "/tmp/edgeproof-pcscd-rig.lock"  # noqa: S108 (deliberately shared by all rig users)
READER_NAME = "Edgeproof vpcd"
READER = f"{READER_NAME} 00 00"


def find_pcscd() -> str | None:
    return shutil.which("pcscd") or (
        "/usr/sbin/pcscd" if os.access("/usr/sbin/pcscd", os.X_OK) else None
    )


def missing_parts() -> list[str]:
    """What the rig lacks on this machine (empty when it can run)."""
    missing = []
    if find_pcscd() is None:
        missing.append("pcscd (Debian package pcscd)")
    if not os.path.exists(VPCD_DRIVER):
        missing.append(f"{VPCD_DRIVER} (Debian package vsmartcard-vpcd)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        missing.append("pyscard (pip)")
    return missing


def pcscd_socket_free() -> bool:
    if not os.path.exists(PCSCD_SOCKET):
        return True
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(PCSCD_SOCKET)
        return False  # another pcscd is serving
    except OSError:
        return True
    finally:
        s.close()


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def write_reader_conf(workdir: Path) -> Path:
    conf = workdir / "reader.conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "{READER_NAME}"\n'
        "DEVICENAME   localhost:0x8C7B\n"  # client mode on loopback: vpcd dials the emulator
        f"LIBPATH      {VPCD_DRIVER}\n"
        "CHANNELID    0x8C7B\n"
    )
    return conf


class PcscRig:
    """pcscd (restartable) in front of an emulator on the vpcd ports."""

    def __init__(self, workdir: Path, server: VpcdServer | None) -> None:
        pcscd = find_pcscd()
        if pcscd is None:
            raise TransportError("pcscd is not installed", code="pcsc.unavailable")
        self.pcscd = pcscd
        self.workdir = workdir
        self.conf = write_reader_conf(workdir)
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader = READER

    def start_pcscd(self) -> None:
        with open(self.workdir / "pcscd.log", "ab") as log:
            self.proc = subprocess.Popen(
                [self.pcscd, "-f", "-c", str(self.conf)], stdout=log, stderr=log
            )
        proc = self.proc
        from smartcard.System import readers

        def ready() -> bool:
            if proc.poll() is not None:
                raise TransportError(
                    f"pcscd exited: {(self.workdir / 'pcscd.log').read_text()[-500:]}",
                    code="pcsc.unavailable",
                )
            try:
                return any(str(r).startswith(READER_NAME) for r in readers())
            except Exception:
                return False

        wait_for(ready, 15, "pcscd to list the vpcd reader")

    def stop_pcscd(self) -> None:
        """SIGTERM by PID, SIGKILL if it lingers."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)

    def insert(self, chip: EmulatedChip | None) -> None:
        """Put a chip on reader 0; restarts pcscd if a 'removed' fault took it down."""
        if self.server is None:
            raise RuntimeError("this rig serves an external emulator")
        self.server.insert(chip)
        dropped = self.server.link_dropped.is_set()
        if dropped or self.proc is None or self.proc.poll() is not None:
            # A dropped link takes pcscd down, but a client may still reach the dying
            # daemon for a moment (pcsc-lite then answers "access denied"): restart it.
            self.server.link_dropped.clear()
            self.stop_pcscd()
            self.start_pcscd()


@contextmanager
def rig_lock() -> Iterator[None]:
    """Exclusive use of pcscd's socket and the vpcd ports on this machine."""
    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not pcscd_socket_free():
                raise TransportError(
                    "another pcscd already serves /run/pcscd; stop it to use the rig",
                    code="pcsc.busy",
                )
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def pcsc_rig(workdir: Path, *, with_server: bool = True) -> Iterator[PcscRig]:
    """Lock, emulator (unless the caller runs its own), pcscd; all stopped at exit."""
    with rig_lock():
        server = VpcdServer(None).start() if with_server else None
        rig = PcscRig(workdir, server)
        try:
            if server is not None:
                rig.start_pcscd()
            yield rig
        finally:
            rig.stop_pcscd()
            if server is not None:
                server.stop()
            time.sleep(0.1)
