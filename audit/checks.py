"""The checks themselves: pure functions over checkpoints, proofs and entries (no I/O).

Each function takes what a source fetched and either returns what it established or
raises an AuditError (or the attest error that says why) with a stable reason code. The
clauses: checkpoints are COSE_Sign1 (RFC 9052 section 4) over the verifier's checkpoint
map; consistency and inclusion follow RFC 9162 sections 2.1.4.2 and 2.1.3.2; leaf `i` is
the exact bytes of the i-th EAR, hashed per RFC 9162 section 2.1.1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from attest import cbor, cose, merkle
from attest.ear import decode_ear_unverified, verify_ear_cwt
from attest.errors import AttestError, PrivacyError
from attest.evidence import verify_evidence
from attest.keys import PublicKey, b64url, b64url_decode
from attest.keyset import KeySet
from attest.report import describe
from audit.errors import CheckpointError, InconsistencyError

CHECKPOINT_FORMAT = "edgeproof-checkpoint/1"  # verifier/auditlog.py: Checkpoint.encode
MAX_CHECKPOINT = 1024
Severity = Literal["error", "privacy", "warning"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with one entry (or with the log), with a stable reason code."""

    code: str
    message: str
    severity: Severity = "error"
    index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
            "index": self.index,
        }


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose signature was checked: (origin, size, root, time) and its bytes."""

    origin: str
    size: int
    root: bytes
    time: int
    signed: bytes

    def to_json(self) -> dict[str, Any]:
        """The verifier's JSON form (GET /v1/log/checkpoint), so it can be re-verified."""
        return {
            "origin": self.origin,
            "tree_size": self.size,
            "root_hash": b64url(self.root),
            "timestamp": self.time,
            "signed": b64url(self.signed),
        }


class TrustedKeys:
    """Key lookup over the current key set, then the sets the auditor saw before.

    A key dropped from the published set after its overlap still validates the entries it
    signed while it was published: the auditor saw it then.
    """

    def __init__(self, *sets: KeySet) -> None:
        self._sets = sets

    def __call__(self, kid: bytes) -> PublicKey:
        for s in self._sets[:-1]:
            try:
                return s(kid)
            except LookupError:
                continue
        return self._sets[-1](kid)


def keyset_change(trusted: KeySet, current: KeySet) -> tuple[list[str], list[str]]:
    """(kids added, kids removed) between the first trusted key set and the current one."""
    old = {b64url(e.key.kid) for e in trusted.entries}
    new = {b64url(e.key.kid) for e in current.entries}
    return sorted(new - old), sorted(old - new)


def _field(doc: Mapping[str, Any], name: str, kind: type) -> Any:
    v = doc.get(name)
    if not isinstance(v, kind) or isinstance(v, bool):
        raise CheckpointError(f"checkpoint member {name!r} missing or not {kind.__name__}")
    return v


def verify_checkpoint(doc: Any, keys: cose.KeyLookup) -> SignedCheckpoint:
    """Check the signature on a checkpoint and that its JSON says what the signed map says.

    Only the signed bytes count: the JSON members are a convenience the verifier could
    change in transit, so any disagreement is an error.
    """
    if not isinstance(doc, dict):
        raise CheckpointError("a checkpoint is a JSON object")
    signed = b64url_decode(_field(doc, "signed", str))
    msg = cose.verify_sign1(signed, keys, max_size=MAX_CHECKPOINT)  # RFC 9052 section 4.4
    m = cbor.decode(msg.payload, max_size=512)
    if not isinstance(m, dict) or set(m) != {"format", "origin", "size", "root", "time"}:
        raise CheckpointError("signed payload is not a checkpoint map")
    if m["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"unknown checkpoint format {m['format']!r}")
    origin, size, root, t = m["origin"], m["size"], m["root"], m["time"]
    if not (
        isinstance(origin, str)
        and isinstance(size, int)
        and size >= 0
        and isinstance(root, bytes)
        and len(root) == merkle.HASH_SIZE
        and isinstance(t, int)
    ):
        raise CheckpointError("checkpoint members have the wrong types")
    plain = (
        _field(doc, "origin", str),
        _field(doc, "tree_size", int),
        b64url_decode(_field(doc, "root_hash", str)),
        _field(doc, "timestamp", int),
    )
    if plain != (origin, size, root, t):
        raise CheckpointError(
            "the checkpoint's JSON members differ from its signed payload",
            code="audit.checkpoint-mismatch",
        )
    return SignedCheckpoint(origin, size, root, t, signed)


def check_consistency(old: SignedCheckpoint, new: SignedCheckpoint, proof: Sequence[bytes]) -> None:
    """`new` extends `old`: same origin, no shrinking, a valid RFC 9162 2.1.4.2 proof."""
    if old.origin != new.origin:
        raise InconsistencyError(
            f"origin changed from {old.origin!r} to {new.origin!r}", code="audit.origin-changed"
        )
    if new.size < old.size:
        raise InconsistencyError(
            f"the log shrank from {old.size} to {new.size} entries", code="audit.rewind"
        )
    try:
        merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
    except AttestError as exc:
        raise InconsistencyError(
            f"checkpoint of size {new.size} does not extend the stored one of size {old.size} "
            f"({exc.code}): the log was rewritten or forked",
            code="audit.fork",
        ) from None


def check_inclusion(data: bytes, index: int, cp: SignedCheckpoint, proof: Sequence[bytes]) -> None:
    """Entry bytes `data` are leaf `index` of the checkpointed tree (RFC 9162 2.1.3.2)."""
    try:
        merkle.verify_inclusion(merkle.leaf_hash(data), index, cp.size, proof, cp.root)
    except AttestError as exc:
        raise InconsistencyError(
            f"entry {index} is not in the tree of size {cp.size} ({exc.code}: {exc.message})",
            code="audit.not-included",
        ) from None


def check_evidence(
    index: int, ear_data: bytes, evidence: bytes, device_key: PublicKey | None
) -> list[Finding]:
    """The device's own evidence behind one logged result: its SHA-256 is the digest the
    signed EAR carries, it is signed by the key the device enrolled (RFC 9052 section 4.4,
    algorithm pinned), it passes the closed profile v1 schema (a claim outside the
    registry is a privacy finding), and its nonce is the one the result echoes: decoding the
    result already checked that nonce is made from the transaction the result names
    (attest.commitment), so this ties the transaction to the device's signature.
    `ear_data` was already verified by `scan_entry`."""
    try:
        ear = decode_ear_unverified(ear_data)
    except AttestError as exc:
        return [Finding(exc.code, f"result not decodable: {exc.message}", "error", index)]
    if hashlib.sha256(evidence).digest() != ear.evidence_digest:
        return [
            Finding(
                "audit.evidence-digest",
                "the stored evidence is not the evidence the signed result names",
                "error",
                index,
            )
        ]
    if device_key is None or device_key.kid != ear.device_kid:
        return [Finding("audit.device-unknown", "the device key is not enrolled", "error", index)]
    try:
        ev, _ = verify_evidence(evidence, {device_key.kid: device_key})
    except PrivacyError as exc:
        return [Finding("audit.evidence-privacy", f"{exc.code}: {exc.message}", "privacy", index)]
    except AttestError as exc:
        return [Finding("audit.evidence-invalid", f"{exc.code}: {exc.message}", "error", index)]
    if ev.nonce != ear.nonce:  # RFC 9711 section 4.1: the nonce the device signed
        return [
            Finding(
                "audit.nonce-mismatch",
                "the result echoes a nonce the device did not sign",
                "error",
                index,
            )
        ]
    return []


def scan_entry(index: int | None, data: bytes, keys: cose.KeyLookup) -> list[Finding]:
    """Verifier signature, EAR schema and privacy registry for one entry.

    The fast path is `verify_ear_cwt`: the signature, then the EAR schema, which is closed
    at every level, so a valid EAR cannot carry a claim outside the registry. Only an entry
    that fails it goes through `describe` (attest/report.py), which names every departure
    and flags each claim outside the registry as a privacy finding.
    """
    try:
        verify_ear_cwt(data, keys)
        return []
    except AttestError as exc:
        first = Finding(exc.code, exc.message, "error", index)
    try:
        rep = describe(data, keys)
    except AttestError as exc:
        return [Finding(exc.code, f"not a COSE_Sign1: {exc.message}", "error", index)]
    # An EAR claim outside the profile is a privacy finding whatever attest calls it: it is
    # data the verifier published that the schema never allowed (ARCHITECTURE.md, privacy).
    out = [
        Finding(
            f.code, f.message, "privacy" if f.code == "ear.unknown-claim" else f.severity, index
        )
        for f in rep.findings
    ]
    out += [
        Finding(
            "audit.unregistered-claim",
            f"claim {e.label!r} is outside the registry",
            "privacy",
            index,
        )
        for e in rep.claims
        if e.name.startswith("unknown")
    ]
    if rep.kind != "ear" and not any(f.code == "inspect.unknown-profile" for f in out):
        out.append(Finding("audit.not-an-ear", f"entry is {rep.kind}, not an EAR", "error", index))
    return out or [first]


@dataclass(frozen=True)
class Recomputed:
    """The tree rebuilt from the entries, and what was missing on the way."""

    tree: merkle.MerkleTree
    missing: tuple[int, ...]
    by_leaf: dict[bytes, int]


def recompute(leaf_hashes: Mapping[int, bytes], size: int) -> Recomputed:
    """MTH over leaves 0..size-1 (RFC 9162 section 2.1.1); stops at the first gap.

    Takes leaf hashes (`merkle.leaf_hash` of each entry's bytes) so a full audit holds 32
    bytes per entry, not the entries. A gap means the tree cannot be rebuilt at all: the
    missing indices are reported instead.
    """
    missing = tuple(i for i in range(size) if i not in leaf_hashes)
    tree = merkle.MerkleTree()
    by_leaf: dict[bytes, int] = {}
    for i in range(size):
        h = leaf_hashes.get(i)
        if h is None:
            break
        by_leaf.setdefault(h, i)
        tree.append_hash(h)
    return Recomputed(tree, missing, by_leaf)


def decode_proof(items: Iterable[Any]) -> list[bytes]:
    """Proof hashes as the verifier sends them (unpadded base64url strings)."""
    try:
        return [b64url_decode(p) for p in items]
    except (AttestError, TypeError):
        raise CheckpointError("proof hashes must be base64url", code="audit.bad-proof") from None
