"""The console's overview: the latest checkpoint, counts, and whether the log is one tree.

Why the consistency is rebuilt on every visit: it is the one statement an auditor reads
at a glance, so it is computed from the stored entries, not remembered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from attest import merkle, paths
from attest.ear import Status
from attest.keys import b64url_decode
from attest.note import NoteError, open_checkpoint
from verifier.console_base import (
    b64_to_hex,
    bp,
    page,
)
from verifier.http import verifier
from verifier.storage import Appraisal, Device, LogEntry


@bp.get("/")
def overview() -> Any:
    v = verifier()
    checkpoint = v.checkpoint()
    with v.reader() as s:
        by_status = dict(
            s.execute(select(Appraisal.status, func.count()).group_by(Appraisal.status)).all()
        )
        keys = s.execute(
            select(
                func.count(),
                func.count(Device.revoked_at),
                func.count(func.distinct(Device.device_id)),
            ).select_from(Device)
        ).one()
    counts = [(s.label, int(by_status.get(int(s), 0))) for s in Status if s != Status.NONE]
    return page(
        "overview.html",
        checkpoint=checkpoint,
        health=log_consistency(v, checkpoint),
        root_hex=b64_to_hex(checkpoint["root_hash"]),
        counts=counts,
        total=sum(n for _, n in counts),
        keys={"all": keys[0], "revoked": keys[1], "devices": keys[2]},
        witnessing=v.witness_status(),
    )


@dataclass(frozen=True)
class Finding:
    """One way the log disagrees with itself; `index` when it is one entry's fault."""

    what: str
    index: int | None = None
    appraisal_id: str | None = None


@dataclass(frozen=True)
class Consistency:
    size: int  # entries in the database
    views: tuple[tuple[str, bool, str], ...]  # (what was compared, agrees, detail)
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad(self) -> Finding | None:
        at = [f for f in self.findings if f.index is not None]
        return min(at, key=lambda f: f.index or 0) if at else None


def log_consistency(v: Any, checkpoint: dict[str, Any]) -> Consistency:
    """Is the log one tree? Rebuilt here from the database on every overview.

    Compared, each against the tree rebuilt from the stored leaf hashes (RFC 9162 section
    2.1.1): each entry's bytes against its leaf hash; each appraisal record against the
    leaf at its log index (what the proof page does for one entry, for all); the signed
    checkpoint this page shows; the C2SP checkpoint the log serves and the cosigned one
    the witnesses signed (c2sp.org/tlog-checkpoint, tlog-cosignature: a witness cosigns
    only a tree consistent with the one it saw before, so a cosigned root the rebuilt tree
    does not have means the entries changed after witnessing). Reading every entry costs
    one pass over the log (32 bytes a leaf kept in memory); that is the price of a
    statement the auditor can trust at a glance.
    """
    rebuilt = _Rebuilt()
    with v.reader() as s:
        rebuilt.read_entries(s)
        rebuilt.check_records(s)
    rebuilt.compare(
        "signed checkpoint (this page)",
        checkpoint["tree_size"],
        b64url_decode(checkpoint["root_hash"]),
    )
    rebuilt.compare_notes(v)
    return Consistency(len(rebuilt.leaves), tuple(rebuilt.views), tuple(rebuilt.findings))


class _Rebuilt:
    """The tree rebuilt from the stored entries, and what disagrees with it so far."""

    def __init__(self) -> None:
        self.tree = merkle.MerkleTree()
        self.leaves: list[bytes] = []
        self.ids: list[str] = []
        self.findings: list[Finding] = []
        self.views: list[tuple[str, bool, str]] = []

    def read_entries(self, s: Any) -> None:
        """Each entry's bytes against its logged leaf hash; a gap ends the tree there."""
        rows = s.execute(
            select(LogEntry.idx, LogEntry.leaf_hash, LogEntry.data, LogEntry.appraisal_id)
            .order_by(LogEntry.idx)
            .execution_options(yield_per=1000)
        )
        for idx, leaf, data, aid in rows:
            if idx != len(self.leaves):
                self.findings.append(
                    Finding(f"entries {len(self.leaves)}..{idx - 1} are missing", len(self.leaves))
                )
                break
            leaf = bytes(leaf)
            if merkle.leaf_hash(bytes(data)) != leaf:
                self.findings.append(
                    Finding(
                        f"entry {idx}'s bytes hash to {merkle.leaf_hash(bytes(data)).hex()}, "
                        f"not its logged leaf hash {leaf.hex()}",
                        idx,
                        aid,
                    )
                )
            self.leaves.append(leaf)
            self.ids.append(aid)
            self.tree.append_hash(leaf)

    def check_records(self, s: Any) -> None:
        """Each appraisal record against the leaf at the index it says it was logged at."""
        records = s.execute(
            select(Appraisal.log_index, Appraisal.id, Appraisal.ear_cwt)
            .order_by(Appraisal.log_index)
            .execution_options(yield_per=1000)
        )
        leaves, ids = self.leaves, self.ids
        for index, aid, cwt in records:
            mine = merkle.leaf_hash(bytes(cwt))
            if not 0 <= index < len(leaves):
                self.findings.append(
                    Finding(f"appraisal {aid} names log index {index}, not in the log", None, aid)
                )
            elif ids[index] != aid:
                self.findings.append(
                    Finding(
                        f"entry {index} names appraisal {ids[index]}, but appraisal {aid} "
                        "says it was logged there",
                        index,
                        aid,
                    )
                )
            elif mine != leaves[index]:
                self.findings.append(
                    Finding(
                        f"entry {index}: appraisal {aid}'s stored result hashes to "
                        f"{mine.hex()}, the log's leaf is {leaves[index].hex()}",
                        index,
                        aid,
                    )
                )

    def compare(self, what: str, size: int, root: bytes) -> None:
        if size > len(self.leaves):
            ok, detail = False, f"size {size} is more than the {len(self.leaves)} entries stored"
        else:
            mine = self.tree.root(size)
            ok = mine == root
            detail = f"size {size}, root {root.hex()}" + (
                "" if ok else f"; the entries rebuild {mine.hex()}"
            )
        self.views.append((what, ok, detail))
        if not ok:
            self.findings.append(Finding(f"{what}: {detail}"))

    def compare_notes(self, v: Any) -> None:
        """The C2SP checkpoint served, and the one the witnesses cosigned (if stored)."""
        witnesses = [w.key for w in v.tlog.witnesses]
        served_at = f"C2SP checkpoint served at {paths.TLOG_CHECKPOINT}"
        try:
            served = open_checkpoint(v.note_checkpoint(), v.tlog.key.verifier, witnesses)
            self.compare(served_at, served.checkpoint.size, served.checkpoint.root)
        except NoteError as exc:
            self.views.append((served_at, False, exc.message))
            self.findings.append(Finding(f"the C2SP checkpoint does not verify: {exc.message}"))
        stored = v.tlog.store.read()
        if stored is not None:
            what = "checkpoint the witnesses cosigned"
            try:
                cos = open_checkpoint(stored, v.tlog.key.verifier, witnesses)
            except NoteError as exc:
                self.views.append((what, False, exc.message))
                self.findings.append(
                    Finding(f"the stored cosigned checkpoint does not verify: {exc.message}")
                )
            else:
                names = ", ".join(sorted(cos.cosigners)) or "no witness"
                self.compare(f"{what} ({names})", cos.checkpoint.size, cos.checkpoint.root)
