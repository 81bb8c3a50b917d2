"""The audit log: an RFC 9162 Merkle tree over the signed results, kept in the database.

Leaf `i` is the exact bytes of the i-th accepted EAR (its COSE_Sign1 CWT): pseudonymous by
construction, verifiable on its own with the published key set. Entries are appended
inside the accepting transaction (verifier.committer), under the log head's row lock, so
indices are dense and a committed result is always in the log.

Each worker process keeps the tree in memory (`LogView`) and catches up from the database
before answering (`sync`); rows below the committed size never change, so the cache only
ever grows. Checkpoints (origin, size, root, time) are signed with the result key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from attest import cbor, cose
from attest.keys import SigningKey, b64url
from attest.merkle import MerkleTree, leaf_hash
from verifier.errors import VerifierError
from verifier.storage import LogEntry, LogHead

CHECKPOINT_FORMAT = "edgeproof-checkpoint/1"


def entry_row(index: int, appraisal_id: str, data: bytes) -> dict[str, Any]:
    """The `log_entries` row for leaf `index` (inserted under the log head's row lock)."""
    return {"idx": index, "leaf_hash": leaf_hash(data), "data": data, "appraisal_id": appraisal_id}


# Built once: statement construction is a visible cost on the hot path.
HEAD_SIZE = select(LogHead.size).where(LogHead.id == 1)
LEAVES = (
    select(LogEntry.idx, LogEntry.leaf_hash)
    .where(LogEntry.idx >= bindparam("lo"), LogEntry.idx < bindparam("hi"))
    .order_by(LogEntry.idx)
)


def committed_size(session: Session | Connection) -> int:
    return int(session.execute(HEAD_SIZE).scalar_one())


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: int

    def encode(self) -> bytes:
        return cbor.encode(
            {
                "format": CHECKPOINT_FORMAT,
                "origin": self.origin,
                "size": self.size,
                "root": self.root,
                "time": self.time,
            }
        )

    def sign(self, key: SigningKey) -> bytes:
        return cose.sign1(self.encode(), key)

    @classmethod
    def decode(cls, payload: bytes) -> Checkpoint:
        m = cbor.decode(payload, max_size=512)
        if not isinstance(m, dict) or set(m) != {"format", "origin", "size", "root", "time"}:
            raise ValueError("not a checkpoint")
        if m["format"] != CHECKPOINT_FORMAT:
            raise ValueError("unknown checkpoint format")
        return cls(m["origin"], m["size"], m["root"], m["time"])

    def to_json(self, key: SigningKey) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tree_size": self.size,
            "root_hash": b64url(self.root),
            "timestamp": self.time,
            "signed": b64url(self.sign(key)),
        }


class LogView:
    """This process's copy of the tree, caught up from the database on demand."""

    def __init__(self) -> None:
        self.tree = MerkleTree()
        self._lock = threading.Lock()

    def sync(self, session: Session | Connection, at_least: int = 0) -> int:
        """Catch up to the committed size (and at least `at_least`); returns that size."""
        size = max(committed_size(session), at_least)
        if self.tree.size < size:
            with self._lock:
                lo = self.tree.size
            self.extend(session.execute(LEAVES, {"lo": lo, "hi": size}).all())
        return min(size, self.tree.size)

    @property
    def size(self) -> int:
        return self.tree.size

    def extend(self, rows: Iterable[tuple[int, bytes]]) -> None:
        """Append committed leaves (index, leaf hash) read in index order.

        Another thread may have caught up meanwhile: leaves already held are skipped.
        """
        with self._lock:
            for idx, h in rows:
                if idx < self.tree.size:
                    continue
                if idx != self.tree.size:  # a gap means a bug or a tampered table
                    raise VerifierError(
                        f"log entry {self.tree.size} is missing from storage: the log "
                        "table was changed outside the verifier; restore it from a backup",
                        code="log.corrupt",
                    )
                self.tree.append_hash(bytes(h))

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes], bytes]:
        with self._lock:
            return (
                self.tree.leaf(index),
                self.tree.inclusion_proof(index, size),
                self.tree.root(size),
            )

    def consistency(self, first: int, second: int) -> tuple[list[bytes], bytes, bytes]:
        with self._lock:
            return (
                self.tree.consistency_proof(first, second),
                self.tree.root(first),
                self.tree.root(second),
            )

    def root(self, size: int) -> bytes:
        with self._lock:
            return self.tree.root(size)

    def complete_subtrees(self, height: int, start: int, count: int) -> list[bytes]:
        """Hashes for a tlog-tiles tile (verifier.tlog)."""
        with self._lock:
            return self.tree.complete_subtrees(height, start, count)
