"""The witness's state: per log origin, the latest checkpoint it cosigned (and refusals).

tlog-witness "add-checkpoint": checking the old size against the stored size and storing
the new checkpoint must be one atomic step, or two racing requests could roll the
witness back. Each request runs in one `BEGIN IMMEDIATE` transaction (SQLite's write lock
taken at BEGIN), and the new state is durable (WAL, synchronous=FULL) before the answer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,          -- the log's signature lines and our cosignature
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL           -- the whole request: evidence of a log's misbehaviour
);
"""
MAX_REFUSED = 1000  # evidence kept, oldest dropped first


@dataclass(frozen=True)
class Latest:
    size: int
    root: bytes
    note: str
    updated_at: int


class Store:
    """One SQLite connection per thread, kept open: opening one per request (and setting
    its pragmas) cost more than the cosignature itself."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")  # persistent: set once for the file
        db.executescript(SCHEMA)
        db.close()

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA synchronous=FULL")  # the new state is on disk before we answer
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def latest(db: sqlite3.Connection, origin: str) -> Latest | None:
        row = db.execute(
            "SELECT size, root, note, updated_at FROM latest WHERE origin = ?", (origin,)
        ).fetchone()
        return None if row is None else Latest(int(row[0]), bytes(row[1]), str(row[2]), int(row[3]))

    @staticmethod
    def put(
        db: sqlite3.Connection, origin: str, size: int, root: bytes, note: str, now: int
    ) -> None:
        db.execute(
            "INSERT INTO latest (origin, size, root, note, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "note = excluded.note, updated_at = excluded.updated_at",
            (origin, size, root, note, now),
        )

    def refuse(self, origin: str, status: int, reason: str, body: str, now: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO refused (origin, received_at, status, reason, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (origin, now, status, reason, body),
            )
            db.execute(
                "DELETE FROM refused WHERE id <= (SELECT MAX(id) FROM refused) - ?",
                (MAX_REFUSED,),
            )

    def read_latest(self, origin: str) -> Latest | None:
        return self.latest(self._connect(), origin)

    def refusals(self, origin: str | None = None) -> list[tuple[int, int, str, str]]:
        """(received_at, status, reason, body), oldest first."""
        q = "SELECT received_at, status, reason, body FROM refused"
        rows = (
            self._connect()
            .execute(
                q + (" WHERE origin = ?" if origin else "") + " ORDER BY id",
                (origin,) if origin else (),
            )
            .fetchall()
        )
        return [(int(a), int(b), str(c), str(d)) for a, b, c, d in rows]
