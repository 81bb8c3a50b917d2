"""The appraisal hot path's SQL, run on raw DBAPI connections (sqlite3 or psycopg 3).

Every accepted appraisal costs one read (device, nonce, cti, reference count) and a share
of one group-commit transaction (verifier/committer.py). Through SQLAlchemy's Core each
statement costs about 60 us of Python; on the raw driver connection it costs about 5 us
(SQLite), and the read is one statement instead of four, so on PostgreSQL one round trip
instead of four. Everything else in the service stays on SQLAlchemy.

Table and column names come from the SQLAlchemy models (verifier/storage.py), so the
schema has one source; tests run these statements against both backends.
"""

# ruff: noqa: S608 - the f-strings below interpolate only table and column names from the
# models and the driver's placeholder mark; every value travels as a bound parameter.

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from verifier.storage import ReferenceManifest, tables

_NONCES, _DEVICES, _APPRAISALS, _ENTRIES, _HEAD = tables()


class NonceRow(NamedTuple):
    nonce: bytes
    issued_at: int
    expires_at: int
    consumed_at: int | None
    owner_token_id: int | None
    txn_hash: bytes | None
    txn_salt: bytes | None
    commitment: bytes | None
    liveness_method: int
    challenge: str


class DeviceRow(NamedTuple):
    kid: bytes
    device_id: str
    cose_key: bytes
    not_after: int | None
    revoked_at: int | None


class Records(NamedTuple):
    """What appraising one token needs from the database, read in one statement."""

    device: DeviceRow | None
    nonce: NonceRow | None
    cti_seen: bool
    manifest_count: int


class Claim(NamedTuple):
    """What the first step of a group commit learnt, under the log head's lock."""

    consumed: set[bytes]  # nonces this transaction consumed
    size: int  # the committed log size: the batch's first index
    taken: set[bytes]  # ctis already accepted
    leaves: list[tuple[int, bytes]]  # (index, leaf hash) of committed entries from `since`


CATCH_UP = 1024  # leaves a commit brings the worker's tree forward by, at most


def _cols(prefix: str, fields: Sequence[str]) -> str:
    return ", ".join(f"{prefix}.{f}" for f in fields)


class HotPath:
    """The hot statements for one backend: `?` placeholders for sqlite3, `%s` for psycopg."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.driver_error: Any = engine.dialect.loaded_dbapi.Error  # PEP 249 base error
        q = self.mark
        # One row always (the LEFT JOINs onto a one-row table): NULLs where nothing matched.
        self.read_sql = (
            f"SELECT {_cols('n', NonceRow._fields)}, {_cols('d', DeviceRow._fields)}, "
            f"(SELECT count(*) FROM {ReferenceManifest.__tablename__}), "
            f"(SELECT count(*) FROM {_APPRAISALS.name} WHERE cti = {q}) "
            "FROM (SELECT 1 AS one) AS x "
            f"LEFT JOIN {_NONCES.name} AS n ON n.nonce = {q} "
            f"LEFT JOIN {_DEVICES.name} AS d ON d.kid = {q}"
        )
        self.appraisal_cols = [c.name for c in _APPRAISALS.columns]
        self.entry_cols = [c.name for c in _ENTRIES.columns]
        self.insert_appraisal = _insert(_APPRAISALS.name, self.appraisal_cols, q)
        self.insert_entry = _insert(_ENTRIES.name, self.entry_cols, q)
        # SQLite's write lock is already held from BEGIN IMMEDIATE; PostgreSQL needs the
        # head's row lock to serialise appends across replicas.
        self.lock_head = f"SELECT size FROM {_HEAD.name} WHERE id = 1" + (
            "" if self.sqlite else " FOR UPDATE"
        )
        self.set_head = f"UPDATE {_HEAD.name} SET size = {q} WHERE id = 1"
        self.leaves_sql = (
            f"SELECT idx, leaf_hash FROM {_ENTRIES.name} WHERE idx >= {q} AND idx < {q} "
            "ORDER BY idx"
        )

    def _in(self, n: int) -> str:
        return "(" + ", ".join([self.mark] * n) + ")"

    def read(self, kid: bytes | None, nonce: bytes | None, cti: bytes | None, conn: Any) -> Records:
        cur = conn.cursor()
        cur.execute(self.read_sql, (cti, nonce, kid))
        row = cur.fetchone()
        n, d = len(NonceRow._fields), len(DeviceRow._fields)
        return Records(
            device=DeviceRow(*row[n : n + d]) if row[n] is not None else None,
            nonce=NonceRow(*row[:n]) if row[0] is not None else None,
            cti_seen=row[n + d + 1] > 0,
            manifest_count=int(row[n + d]),
        )

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled driver connection, returned to the pool afterwards.

        A driver error leaves as SQLAlchemy's wrapper of it (what the rest of the service
        raises, so the app answers `request.unavailable` for both), and a connection the
        database dropped is invalidated rather than returned to the pool.
        """
        try:
            conn = self.engine.raw_connection()
        except self.driver_error as exc:  # raised while connecting (pool events)
            raise DBAPIError.instance(None, None, exc, self.driver_error) from exc
        try:
            yield conn
        except self.driver_error as exc:
            if self.engine.dialect.is_disconnect(exc, conn, None):
                conn.invalidate()
            raise DBAPIError.instance(None, None, exc, self.driver_error) from exc
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction on a driver connection: COMMIT on success, else ROLLBACK.

        SQLite: BEGIN IMMEDIATE takes the write lock up front (the connection runs in
        autocommit mode, see storage.make_engine). PostgreSQL: pipeline mode, so statements
        whose results nobody waits for travel together; the first one opens the
        transaction (READ COMMITTED) and COMMIT goes out with the last writes. On a machine
        whose cores are busy, every round trip waits for the database process to be
        scheduled, and the log head's lock is held across them: fewer is faster.
        """
        with self.connection() as conn:
            try:
                if self.sqlite:
                    conn.execute("BEGIN IMMEDIATE")
                    yield conn
                    conn.commit()
                else:
                    with conn.driver_connection.pipeline():
                        yield conn
                        conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def claim(
        self, conn: Any, nonces: list[bytes], ctis: list[bytes], now: int, since: int
    ) -> Claim:
        """Consume the nonces, lock the log head, look for the ctis: one round trip.

        The order is the lock order (committer.py): nonce rows, then the head; what follows
        runs after the head lock is granted, so under READ COMMITTED it sees every append
        committed before ours: the ctis already accepted, and the leaves from `since` (the
        worker's tree size) on, which other workers appended (at most CATCH_UP of them).
        """
        q = self.mark
        consume, head, taken, leaves = (conn.cursor() for _ in range(4))
        consume.execute(
            f"UPDATE {_NONCES.name} SET consumed_at = {q} WHERE nonce IN {self._in(len(nonces))}"
            f" AND consumed_at IS NULL AND expires_at >= {q} RETURNING nonce",
            (now, *nonces, now),
        )
        head.execute(self.lock_head)
        taken.execute(
            f"SELECT cti FROM {_APPRAISALS.name} WHERE cti IN {self._in(len(ctis))}", ctis
        )
        leaves.execute(
            f"SELECT idx, leaf_hash FROM {_ENTRIES.name} WHERE idx >= {q} ORDER BY idx "
            f"LIMIT {CATCH_UP}",
            (since,),
        )
        return Claim(
            {bytes(r[0]) for r in consume.fetchall()},
            int(head.fetchone()[0]),
            {bytes(r[0]) for r in taken.fetchall()},
            [(int(i), bytes(h)) for i, h in leaves.fetchall()],
        )

    def unconsume(self, conn: Any, nonces: list[bytes]) -> None:
        conn.cursor().execute(
            f"UPDATE {_NONCES.name} SET consumed_at = NULL WHERE nonce IN {self._in(len(nonces))}",
            nonces,
        )

    def leaves(self, conn: Any, lo: int, hi: int) -> list[tuple[int, bytes]]:
        """Leaf hashes lo..hi-1 of the log, in index order (entries never change)."""
        cur = conn.cursor()
        cur.execute(self.leaves_sql, (lo, hi))
        return [(int(i), bytes(h)) for i, h in cur.fetchall()]

    def append(
        self,
        conn: Any,
        appraisals: list[dict[str, Any]],
        entries: list[dict[str, Any]],
        new_size: int,
    ) -> None:
        """Insert appraisals and log entries and move the head (queued, on PostgreSQL)."""
        cur = conn.cursor()
        cur.executemany(
            self.insert_appraisal, [tuple(a[c] for c in self.appraisal_cols) for a in appraisals]
        )
        cur.executemany(self.insert_entry, [tuple(e[c] for c in self.entry_cols) for e in entries])
        cur.execute(self.set_head, (new_size,))


def _insert(table: str, cols: list[str], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
