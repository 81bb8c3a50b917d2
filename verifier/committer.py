"""Group commit: many accepted appraisals per database transaction, each still atomic.

Appending to a dense Merkle log serialises writers on the log head; with one transaction
per appraisal, throughput is capped at one commit (a WAL flush, and on PostgreSQL the
round trips of the transaction, about 1.5 ms here even when idle) per appraisal, across
all replicas. So each worker process has one committer thread that
takes whatever accepted appraisals are waiting (up to MAX_BATCH) and writes them in ONE
transaction; each request thread waits for that COMMIT before it answers. An item that
fails (nonce replayed, cti replayed) is dropped from the batch before anything is written
for it, so it never sinks its neighbours.

Lock order, the same in every replica, so batches never deadlock:
1. the nonces' conditional UPDATE (row locks; replay detection);
2. the log head row (FOR UPDATE on PostgreSQL; SQLite holds its write lock from BEGIN);
3. the cti check and the appraisal and log entry inserts, indices dense from the head.
On PostgreSQL steps 1 to 3 travel as one pipelined flight and the inserts with COMMIT as a
second (verifier/hotpath.py): the head's lock is held for about one round trip.
"""

from __future__ import annotations

import fcntl
import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.auditlog import LogView, entry_row
from verifier.errors import VerifierError
from verifier.hotpath import HotPath

log = logging.getLogger("verifier.committer")
MAX_BATCH = 64
WAIT_S = 30.0


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class Pending:
    """One accepted appraisal waiting for its commit."""

    appraisal: dict[str, Any]  # Appraisal columns except log_index
    cwt: bytes
    now: int
    index: int | None = None
    error: VerifierError | None = None
    # Held until the committer has written (or refused) the item. A bare lock is the
    # cheapest one-shot signal between two threads; an Event builds a Condition per item.
    done: threading.Lock = field(default_factory=_held_lock)

    @property
    def nonce(self) -> bytes:
        n: bytes = self.appraisal["nonce"]
        return n


class Committer:
    def __init__(self, hot: HotPath, log: LogView, lock_file: Path | None = None) -> None:
        self.hot = hot
        # This worker's tree: each commit also reads the leaves other workers appended
        # since, so after COMMIT the tree holds the batch too and answering needs no read.
        self.log = log
        # SQLite only: the committers of all worker processes queue on an flock, which
        # wakes the next one the moment the lock is released; SQLite's own busy handler
        # would poll with sleeps of 1, 2, 5, 10 ... ms and stretch the latency tail.
        self.lock_file = lock_file
        self._queue: queue.Queue[Pending] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def commit(self, item: Pending) -> int:
        """Block until `item` is committed; its log index, or its VerifierError."""
        with self._start:  # started lazily: after gunicorn's fork, in the worker itself
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="committer", daemon=True)
                self._thread.start()
        self._queue.put(item)
        if not item.done.acquire(timeout=WAIT_S):
            raise VerifierError("the database did not commit in time", code="request.unavailable")
        if item.error is not None:
            raise item.error
        assert item.index is not None
        return item.index

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:
                log.exception("batch of %d appraisals failed to commit", len(batch))
                for p in batch:
                    p.index = None
                    p.error = VerifierError(
                        "the database refused the write; retry with a new challenge",
                        code="request.unavailable",
                    )
            finally:
                for p in batch:
                    p.done.release()

    def _write(self, batch: list[Pending]) -> None:
        if self.lock_file is None:
            self._transaction(batch)
            return
        with open(self.lock_file, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                self._transaction(batch)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _transaction(self, batch: list[Pending]) -> None:
        with self.hot.transaction() as conn:
            # Steps 1 to 3 in one statement batch (hotpath.HotPath.claim): PostgreSQL locks
            # the nonce rows in primary-key order, so batches with overlapping nonces cannot
            # deadlock; then the head; then the ctis, read under the head lock.
            now = max(p.now for p in batch)
            since = self.log.size
            claim = self.hot.claim(
                conn,
                list({p.nonce for p in batch}),
                list({p.appraisal["cti"] for p in batch}),
                now,
                since,
            )
            consumed, size, taken = claim.consumed, claim.size, claim.taken
            accepted: list[Pending] = []
            refused: list[Pending] = []
            for p in batch:
                if p.nonce not in consumed:  # used before, or by an earlier item of the batch
                    p.error = VerifierError("the nonce was already used", code="nonce.replayed")
                    continue
                consumed.discard(p.nonce)
                if p.appraisal["cti"] in taken:
                    refused.append(p)
                    p.error = VerifierError(
                        "this cti was already accepted", code="evidence.cti-replayed"
                    )
                else:
                    taken.add(p.appraisal["cti"])
                    accepted.append(p)
            if refused:  # their nonces stay usable: only acceptance consumes a nonce
                self.hot.unconsume(conn, [p.nonce for p in refused])
            if not accepted:
                return
            for i, p in enumerate(accepted):
                p.index = size + i
            entries = [
                entry_row(size + i, p.appraisal["id"], p.cwt) for i, p in enumerate(accepted)
            ]
            self.hot.append(
                conn,
                [{**p.appraisal, "log_index": p.index} for p in accepted],
                entries,
                size + len(accepted),
            )
        # Committed: the tree may show the batch now. Own leaves only if the read reached
        # the head (at most CATCH_UP leaves are read); otherwise submit catches up itself.
        self.log.extend(claim.leaves)
        if since + len(claim.leaves) >= size:
            self.log.extend((e["idx"], e["leaf_hash"]) for e in entries)
