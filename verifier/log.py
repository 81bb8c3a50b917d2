"""The transparency log as this worker serves it: RFC 9162 proofs as JSON, and the C2SP
formats (checkpoint notes, tiles, entry bundles, tlog-proofs) through verifier/tlog.py.

Why a part of its own: every read first brings the worker's in-memory tree (`LogView`) up
to the database's size (`synced`), whichever format it is served in; appending is the
committer's job (verifier/committer.py), inside the submit transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from attest.keys import SigningKey, b64url
from attest.note import open_checkpoint
from attest.tlog import TILE_WIDTH, entry_bundle
from verifier.auditlog import Checkpoint, LogView
from verifier.context import Context
from verifier.errors import NotFoundError, VerifierError
from verifier.storage import LogEntry
from verifier.tlog import Publisher, TlogView


class Log:
    """Checkpoints and proofs over the worker's copy of the log."""

    def __init__(self, ctx: Context, view: LogView, tlog: TlogView, result_key: SigningKey) -> None:
        self.ctx = ctx
        self.view = view
        self.tlog = tlog
        self.result_key = result_key
        self.publisher: Publisher | None = None

    def synced(self, at_least: int = 0) -> int:
        with self.ctx.reader() as s:
            return self.view.sync(s, at_least)

    def checkpoint(self) -> dict[str, Any]:
        size = self.synced()
        cp = Checkpoint(self.ctx.config.log_origin, size, self.view.root(size), self.ctx.now())
        return cp.to_json(self.result_key)

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        """RFC 9162 section 2.1.3; `size` defaults to the current tree."""
        have = self.synced(0 if size is None else size)
        size = have if size is None else size
        if not 0 <= index < size <= have:
            raise VerifierError(f"need 0 <= index < tree_size <= {have}", code="log.bad-size")
        return self.inclusion_json(index, size)

    def inclusion_json(self, index: int, size: int) -> dict[str, Any]:
        leaf, proof, root = self.view.inclusion(index, size)
        return {
            "index": index,
            "tree_size": size,
            "leaf_hash": b64url(leaf),
            "inclusion_proof": [b64url(p) for p in proof],
            "root_hash": b64url(root),
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """RFC 9162 section 2.1.4."""
        have = self.synced()
        if not 0 <= first <= second <= have:
            raise VerifierError(f"need 0 <= first <= second <= {have}", code="log.bad-size")
        proof, r1, r2 = self.view.consistency(first, second)
        return {
            "first": first,
            "second": second,
            "first_root": b64url(r1),
            "second_root": b64url(r2),
            "consistency_proof": [b64url(p) for p in proof],
        }

    def entries(self, start: int, limit: int) -> dict[str, Any]:
        have = self.synced()
        if not 0 <= start <= have:
            raise VerifierError(f"start must be in 0..{have}", code="log.bad-size")
        with self.ctx.reader() as s:
            rows = (
                s.execute(
                    select(LogEntry)
                    .where(LogEntry.idx >= start, LogEntry.idx < min(have, start + limit))
                    .order_by(LogEntry.idx)
                )
                .scalars()
                .all()
            )
        # The page covers [start, end) whatever rows it found: a client following `next`
        # always moves forward, even past a hole an auditor should see for itself.
        end = min(have, start + limit)
        return {
            "tree_size": have,
            "entries": [
                {"index": r.idx, "appraisal_id": r.appraisal_id, "data": b64url(r.data)}
                for r in rows
            ],
            "next": end if end < have else None,
        }

    # -- the log in C2SP formats (verifier/tlog.py, verifier/tlog_api.py) -----------------

    def start_publisher(self) -> None:
        """Sign checkpoints and collect witness cosignatures in the background (only when
        witnesses are configured; otherwise /log/checkpoint is signed per request)."""
        if not self.tlog.witnesses or self.publisher is not None:
            return
        self.publisher = Publisher(
            self.tlog,
            self.synced,
            lambda a, b: self.view.consistency(a, b)[0],
            self.ctx.config.checkpoint_interval_ms / 1000,
            self.ctx.config.instance_path / "tlog" / "publisher.lock",
        )
        self.publisher.start()

    def note_checkpoint(self) -> str:
        return self.tlog.checkpoint(self.synced())

    def witness_status(self) -> dict[str, Any]:
        """For the console: the C2SP checkpoint served, and which witnesses cosigned it."""
        text = self.note_checkpoint()
        names = [w.key.name for w in self.tlog.witnesses]
        cp = open_checkpoint(text, self.tlog.key.verifier, [w.key for w in self.tlog.witnesses])
        return {
            "note": text,
            "size": cp.checkpoint.size,
            "configured": names,
            "cosigned": sorted(cp.cosigners),
        }

    def tile(self, level: int, n: int, width: int) -> bytes:
        self.synced()
        try:
            return self.tlog.tile(level, n, width)
        except ValueError:
            raise NotFoundError("that tile is not complete yet (tlog-tiles)") from None

    def entry_bundle(self, n: int, width: int) -> bytes:
        have = self.synced()
        lo, hi = n * TILE_WIDTH, n * TILE_WIDTH + width
        if hi > have:
            raise NotFoundError("that entry bundle is not complete yet (tlog-tiles)")
        with self.ctx.reader() as s:
            rows = s.execute(
                select(LogEntry.idx, LogEntry.data)
                .where(LogEntry.idx >= lo, LogEntry.idx < hi)
                .order_by(LogEntry.idx)
            ).all()
        if [r[0] for r in rows] != list(range(lo, hi)):
            raise VerifierError("log entries are missing from storage", code="log.corrupt")
        return entry_bundle([bytes(r[1]) for r in rows])

    def tlog_proof(self, index: int) -> str:
        """The `.tlog-proof` of entry `index` (c2sp.org/tlog-proof)."""
        size = self.synced(index + 1)
        return self.tlog.proof(index, size).encode()
