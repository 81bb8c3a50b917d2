"""The appraisal hot path's SQL (verifier/hotpath.py) and the group commit on both backends.

The server tests exercise these statements end to end; here each outcome of one group
commit is pinned down directly: accepted items get dense indices, a replayed nonce and a
replayed cti fail alone, the refused cti's nonce stays usable, and the worker's tree catches
up with what another worker appended.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from attest.merkle import MerkleTree
from tests.verifier.helpers import PostgresCluster
from verifier.auditlog import LogView
from verifier.committer import Committer, Pending
from verifier.hotpath import HotPath
from verifier.storage import make_engine, migrate, tables

NOW = 1_790_000_000
_NONCES, _, _APPRAISALS, _ENTRIES, _ = tables()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """(engine, autocommit engine for reads) on a fresh database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'v.db'}"
        eng = make_engine(url)
        reads = eng
    else:
        cluster: PostgresCluster = request.getfixturevalue("pg")
        url = cluster.new_database()
        eng = make_engine(url)
        reads = make_engine(url, autocommit=True)
    migrate(eng)
    yield eng, reads
    eng.dispose()
    reads.dispose()


def _nonce(eng: Engine) -> bytes:
    n = secrets.token_bytes(16)
    with eng.begin() as c:
        c.execute(
            insert(_NONCES).values(
                nonce=n, issued_at=NOW, expires_at=NOW + 300, liveness_method=1, challenge="x"
            )
        )
    return n


def _pending(nonce: bytes, cti: bytes) -> Pending:
    aid = secrets.token_hex(16)
    row: dict[str, Any] = {
        "id": aid,
        "created_at": NOW,
        "device_kid": bytes(32),
        "nonce": nonce,
        "cti": cti,
        "evidence_digest": bytes(32),
        "status": 2,
        "policy_id": "test",
        "owner_token_id": None,
        "ear_cwt": b"ear " + aid.encode(),
        "ear_jwt": "jwt",
        "checks": "[]",
        "evidence": b"evidence",
    }
    return Pending(row, row["ear_cwt"], NOW)


def _write(committer: Committer, batch: list[Pending]) -> None:
    committer._write(batch)  # what the committer thread does with a batch


def test_read_finds_nothing_in_an_empty_database(engine: tuple[Engine, Engine]) -> None:
    _, reads = engine
    hot = HotPath(reads)
    with hot.connection() as conn:
        rec = hot.read(bytes(32), bytes(16), bytes(16), conn)
        none = hot.read(None, None, None, conn)
    assert rec.device is None and rec.nonce is None and not rec.cti_seen
    assert rec.manifest_count == 0
    assert none == rec


def test_group_commit_outcomes_and_catch_up(engine: tuple[Engine, Engine]) -> None:
    eng, reads = engine
    hot = HotPath(eng if eng.dialect.name == "sqlite" else reads)
    writer = HotPath(eng)
    other_log, our_log = LogView(), LogView()
    other, ours = Committer(writer, other_log), Committer(writer, our_log)

    # Another worker appends first: our tree learns of its leaf with our own commit.
    first = _pending(_nonce(eng), b"cti-first")
    _write(other, [first])
    assert first.index == 0 and first.error is None

    n1, n2, n3 = _nonce(eng), _nonce(eng), _nonce(eng)
    a = _pending(n1, b"cti-a")
    b = _pending(n1, b"cti-b")  # same nonce as a: a replay inside the batch
    c = _pending(n2, b"cti-first")  # a cti already accepted
    d = _pending(n3, b"cti-d")
    _write(ours, [a, b, c, d])
    assert (a.index, d.index) == (1, 2)
    assert b.error is not None and b.error.code == "nonce.replayed"
    assert c.error is not None and c.error.code == "evidence.cti-replayed"

    with eng.connect() as conn:
        consumed = dict(conn.execute(select(_NONCES.c.nonce, _NONCES.c.consumed_at)).all())
        entries = conn.execute(select(_ENTRIES.c.idx, _ENTRIES.c.leaf_hash)).all()
        indices = conn.execute(select(_APPRAISALS.c.log_index)).scalars().all()
    assert consumed[n1] == NOW and consumed[n3] == NOW
    assert consumed[n2] is None  # refused for its cti: the nonce is usable again
    assert sorted(indices) == [0, 1, 2]

    # Our tree holds the other worker's leaf and our batch: the same tree as the table's.
    expected = MerkleTree()
    for _, h in sorted(entries):
        expected.append_hash(bytes(h))
    assert our_log.size == 3
    assert our_log.root(3) == expected.root(3)
    assert other_log.size == 1  # it has not committed since

    with hot.connection() as conn:
        seen = hot.read(None, n1, b"cti-a", conn)
        fresh = hot.read(None, n2, b"cti-new", conn)
    assert seen.cti_seen and seen.nonce is not None and seen.nonce.consumed_at == NOW
    assert not fresh.cti_seen and fresh.nonce is not None and fresh.nonce.consumed_at is None
    assert fresh.nonce.nonce == n2 and fresh.nonce.expires_at == NOW + 300
