"""The offline queue: signed evidence waiting for the verifier to come back.

Only signed evidence is ever queued, and evidence holds nothing personal (closed claim
schema, attest.evidence), so this is the one thing the device writes to disk during a
session. It is bounded (entries and bytes), each entry is written atomically (temporary
file, fsync, rename), and an entry whose deadline has passed (its nonce expired, or its
`exp`) is dropped and counted rather than sent: the verifier would refuse it anyway.

Entry file name: `<deadline>-<cti hex>.cwt`, so a directory listing sorts by deadline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

_NAME = re.compile(r"(\d{10,12})-([0-9a-f]{16,64})\.cwt")
MAX_TOKEN = 16 * 1024


class QueueFullError(RuntimeError):
    """The queue already holds as many entries or bytes as allowed."""

    code = "queue.full"


class SendResult(Enum):
    SENT = "sent"  # the verifier answered (accepted or refused): the entry is done
    UNREACHABLE = "unreachable"  # try again later


@dataclass(frozen=True)
class DrainReport:
    sent: int
    expired: int
    remaining: int


class EvidenceQueue:
    def __init__(self, directory: Path, *, max_entries: int = 64, max_bytes: int = 1 << 20) -> None:
        self.dir = directory
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in self.dir.glob("*.tmp"):  # a write cut short by a crash: never renamed
            stale.unlink(missing_ok=True)

    def _entries(self) -> list[tuple[int, Path]]:
        out = []
        for p in self.dir.iterdir():
            m = _NAME.fullmatch(p.name)
            if m:
                out.append((int(m.group(1)), p))
        return sorted(out)

    def __len__(self) -> int:
        return len(self._entries())

    def put(self, token: bytes, *, cti: bytes, deadline: int) -> Path:
        """Store one token durably; refuses when full rather than dropping older entries."""
        if not 0 < len(token) <= MAX_TOKEN:
            raise ValueError("queued evidence must be 1 byte to 16 KiB")
        entries = self._entries()
        used = sum(p.stat().st_size for _, p in entries)
        if len(entries) >= self.max_entries or used + len(token) > self.max_bytes:
            raise QueueFullError(
                f"offline queue full ({len(entries)} entries, {used} bytes); "
                "reconnect the verifier before running more sessions"
            )
        final = self.dir / f"{deadline:010d}-{cti.hex()}.cwt"
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, token)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the rename itself must survive a power cut
        finally:
            os.close(dfd)
        return final

    def drain(self, send: Callable[[bytes], SendResult], *, now: int) -> DrainReport:
        """Send entries oldest deadline first; stop at the first unreachable verifier."""
        sent = expired = 0
        entries = self._entries()
        for i, (deadline, path) in enumerate(entries):
            if deadline <= now:
                path.unlink(missing_ok=True)
                expired += 1
                continue
            if send(path.read_bytes()) is SendResult.UNREACHABLE:
                return DrainReport(sent, expired, len(entries) - i)
            path.unlink(missing_ok=True)
            sent += 1
        return DrainReport(sent, expired, 0)
