"""The add-checkpoint decision, clause by clause (c2sp.org/tlog-witness@v1.0.0).

`Witness.add_checkpoint` takes the request body and returns (HTTP status, content type,
body); the HTTP layer (witness.app) only moves bytes. The order of the checks is the
specification's: malformed body 400, unknown origin 404, no valid log signature 403, old
size above the checkpoint's 400, old size not the stored one 409 (with the stored size),
bad empty tree, proof or root 422; then store, cosign, 200.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from attest import merkle
from attest.errors import ProofError
from attest.note import (
    ALG_COSIGNATURE_V1,
    EMPTY_ROOT,
    Note,
    NoteError,
    Signer,
    Verifier,
)
from attest.tlog import AddCheckpoint, checkpoint_of
from witness.store import Store

log = logging.getLogger("witness")
SIZE_TYPE = "text/x.tlog.size"  # tlog-witness: the 409 answer's media type
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: str


def origin_hash(origin: str) -> str:
    """tlog-witness "Monitor Retrieval Mechanism": lowercase hex SHA-256 of the origin."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


class Witness:
    def __init__(
        self,
        key: Signer,
        logs: Sequence[Verifier],
        store: Store,
        clock: Callable[[], float],
    ) -> None:
        if key.alg != ALG_COSIGNATURE_V1:
            raise ValueError("a witness signs cosignature/v1 (type 0x04)")
        self.key = key
        by: dict[str, list[Verifier]] = {}
        for v in logs:
            by.setdefault(v.name, []).append(v)
        self.logs: Mapping[str, list[Verifier]] = by
        self.by_hash = {origin_hash(o): o for o in by}
        self.store = store
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> Answer:
        now = int(self.clock())
        try:
            req = AddCheckpoint.parse(body)
            cp = checkpoint_of(req.checkpoint)
            note = Note.parse(req.checkpoint)
        except NoteError as exc:
            return Answer(400, TEXT, f"malformed add-checkpoint request: {exc.message}\n")
        keys = self.logs.get(cp.origin)
        if keys is None:
            return Answer(404, TEXT, "unknown log origin\n")
        try:
            ok = note.signed_by(keys)
        except NoteError:
            ok = {}
        if not ok:
            return Answer(403, TEXT, "no valid signature by a key trusted for this origin\n")
        if req.old_size > cp.size:
            return Answer(400, TEXT, "old size is larger than the checkpoint's size\n")
        # Only the log's verified signature lines are kept and served back to monitors.
        logsig = Note(note.text, tuple(s for s in note.signatures if s.name in ok))
        refusal: Answer | None = None
        with self.store.transaction() as db:
            latest = self.store.latest(db, cp.origin)
            have = latest.size if latest else 0
            if req.old_size != have:
                return Answer(409, SIZE_TYPE, f"{have}\n")
            refusal = self._consistent(req, cp.size, cp.root, latest.root if latest else None)
            if refusal is None:
                line = self.key.cosign(note.text, now)
                stored = logsig.encode() + line
                self.store.put(db, cp.origin, cp.size, cp.root, stored, now)
        if refusal is not None:
            # Known origin, valid signature, inconsistent: kept as evidence (MAY log).
            log.warning("refused %s size %d: %s", cp.origin, cp.size, refusal.body.strip())
            self.store.refuse(cp.origin, refusal.status, refusal.body.strip(), body.decode(), now)
            return refusal
        return Answer(200, TEXT, line)

    @staticmethod
    def _consistent(
        req: AddCheckpoint, size: int, root: bytes, old_root: bytes | None
    ) -> Answer | None:
        if size == 0 and root != EMPTY_ROOT:
            return Answer(422, TEXT, "a checkpoint of size 0 must carry the empty tree's hash\n")
        if req.old_size == 0:
            if req.proof:
                return Answer(422, TEXT, "old size 0 takes an empty consistency proof\n")
            return None
        assert old_root is not None
        try:
            merkle.verify_consistency(req.old_size, size, list(req.proof), old_root, root)
        except ProofError as exc:
            return Answer(
                422, TEXT, f"not consistent with the cosigned size {req.old_size}: {exc.message}\n"
            )
        return None

    def checkpoint(self, ohash: str) -> Answer:
        origin = self.by_hash.get(ohash)
        latest = self.store.read_latest(origin) if origin else None
        if latest is None:
            return Answer(404, TEXT, "no checkpoint cosigned for that log\n")
        return Answer(200, TEXT, latest.note)
