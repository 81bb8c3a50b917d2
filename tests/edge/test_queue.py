"""The offline evidence queue: bounded, durable, ordered, expiring."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from edge.queue import EvidenceQueue, QueueFullError, SendResult


def test_drain_in_deadline_order_and_drop_expired(tmp_path: Path) -> None:
    q = EvidenceQueue(tmp_path / "q")
    q.put(b"late", cti=b"\x01" * 8, deadline=2_000)
    q.put(b"early", cti=b"\x02" * 8, deadline=1_500)
    q.put(b"stale", cti=b"\x03" * 8, deadline=900)
    seen: list[bytes] = []

    def send(token: bytes) -> SendResult:
        seen.append(token)
        return SendResult.SENT

    report = q.drain(send, now=1_000)
    assert seen == [b"early", b"late"]
    assert (report.sent, report.expired, report.remaining) == (2, 1, 0)
    assert len(q) == 0


def test_unreachable_keeps_entries(tmp_path: Path) -> None:
    q = EvidenceQueue(tmp_path / "q")
    q.put(b"a", cti=b"\x01" * 8, deadline=2_000)
    q.put(b"b", cti=b"\x02" * 8, deadline=2_001)
    report = q.drain(lambda t: SendResult.UNREACHABLE, now=1_000)
    assert (report.sent, report.remaining) == (0, 2)
    assert len(EvidenceQueue(tmp_path / "q")) == 2  # survives a restart


def test_bounded(tmp_path: Path) -> None:
    q = EvidenceQueue(tmp_path / "q", max_entries=2, max_bytes=10)
    q.put(b"12345", cti=b"\x01" * 8, deadline=2_000)
    with pytest.raises(QueueFullError):
        q.put(b"123456", cti=b"\x02" * 8, deadline=2_000)  # bytes
    q.put(b"1", cti=b"\x03" * 8, deadline=2_000)
    with pytest.raises(QueueFullError):
        q.put(b"1", cti=b"\x04" * 8, deadline=2_000)  # entries
    with pytest.raises(ValueError):
        q.put(b"", cti=b"\x05" * 8, deadline=2_000)


def test_private_files_and_crash_leftovers(tmp_path: Path) -> None:
    q = EvidenceQueue(tmp_path / "q")
    path = q.put(b"x", cti=b"\x01" * 8, deadline=2_000)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "q").stat().st_mode) == 0o700
    (tmp_path / "q" / "0000002000-0101010101010101.tmp").write_bytes(b"half")
    assert len(EvidenceQueue(tmp_path / "q")) == 1
    assert not list((tmp_path / "q").glob("*.tmp"))
