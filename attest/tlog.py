"""Offline log proofs and the witness protocol's request body, in their C2SP text forms.

Implemented versions:
  * c2sp.org/tlog-proof@v1       `.tlog-proof` files: index, inclusion proof, checkpoint
  * c2sp.org/tlog-witness@v1.0.0 the add-checkpoint request body (old size, proof, checkpoint)
  * c2sp.org/tlog-tiles@v0.1.0   tile and entry-bundle paths and the entry bundle encoding

A relying party holding a result, the log's vkey and the vkeys of the witnesses it trusts
checks a `.tlog-proof` with `verify_proof` and nothing else: no request to the verifier.
Leaf `i` of our log is the exact bytes of the i-th result (its EAR CWT), hashed per
RFC 9162 section 2.1.1 (the same as RFC 6962 section 2.1).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from attest import merkle
from attest.errors import ProofError
from attest.note import (
    MAX_NOTE_BYTES,
    Checkpoint,
    NoteError,
    SignedCheckpoint,
    Verifier,
    b64std,
    b64std_decode,
    decimal,
    open_checkpoint,
)

TLOG_PROOF = "c2sp.org/tlog-proof@v1"
TLOG_WITNESS = "c2sp.org/tlog-witness@v1.0.0"
TLOG_TILES = "c2sp.org/tlog-tiles@v0.1.0"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"  # tlog-proof "Format": the first line
MAX_PROOF_LINES = 63  # tlog-witness: at most 63 consistency proof lines; a tree of 2^63
TILE_WIDTH = 256  # tlog-tiles: full tiles are 256 hashes
MAX_ENTRY = 0xFFFF  # tlog-tiles: entries are uint16 length-prefixed in a bundle


def _hashes(lines: Sequence[str], what: str) -> list[bytes]:
    out = []
    for ln in lines:
        h = b64std_decode(ln, what)
        if len(h) != 32:
            raise NoteError(f"{what} lines are 32-byte SHA-256 hashes")
        out.append(h)
    return out


# -- tlog-proof ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlogProof:
    """One `.tlog-proof`: entry index, inclusion proof, the checkpoint note verbatim."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note, signatures and cosignatures included
    extra: bytes | None = None

    def encode(self) -> str:
        """tlog-proof "Format": header, optional extra, index, proof lines, blank, checkpoint."""
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64std(self.extra)}")
        lines.append(f"index {self.index}")
        lines += [b64std(h) for h in self.proof]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, data: bytes | str) -> TlogProof:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if len(raw) > MAX_NOTE_BYTES + 4096:
            raise NoteError("a tlog-proof is at most 20 KiB here", code="tlog-proof.malformed")
        try:
            text = raw.decode("utf-8")
            head, sep, note = text.partition("\n\n")
            if not sep:
                raise NoteError("no blank line before the checkpoint")
            lines = head.split("\n")
            if lines[0] != PROOF_HEADER:
                raise NoteError(f"the first line must be {PROOF_HEADER}")
            i = 1
            extra = None
            if i < len(lines) and lines[i].startswith("extra "):
                extra = b64std_decode(lines[i][6:], "extra")
                i += 1
            if i >= len(lines) or not lines[i].startswith("index "):
                raise NoteError("an index line follows the header")
            index = decimal(lines[i][6:], "index")
            proof = _hashes(lines[i + 1 :], "inclusion proof")
            if len(proof) > MAX_PROOF_LINES:
                raise NoteError("an inclusion proof has at most 63 hashes")
        except (NoteError, UnicodeDecodeError) as exc:
            msg = exc.message if isinstance(exc, NoteError) else "not UTF-8"
            raise NoteError(f"tlog-proof: {msg}", code="tlog-proof.malformed") from None
        return cls(index, tuple(proof), note, extra)


@dataclass(frozen=True)
class ProofResult:
    index: int
    checkpoint: SignedCheckpoint

    @property
    def witnesses(self) -> list[str]:
        return sorted(self.checkpoint.cosigners)


def verify_proof(
    data: bytes | str,
    entry: bytes,
    log: Verifier,
    witnesses: Sequence[Verifier] = (),
    required: Sequence[Verifier] = (),
) -> ProofResult:
    """tlog-proof "Verifying a tlog proof", steps 1 to 4.

    1. the leaf hash of `entry` (our entries are the result's CWT bytes);
    2. the checkpoint's origin is the log's and the log signed it;
    3. every known witness's cosignature verifies, and each `required` one is present;
    4. the inclusion proof leads from the leaf to the checkpoint's root.
    """
    p = TlogProof.parse(data)
    leaf = merkle.leaf_hash(entry)
    scp = open_checkpoint(p.checkpoint, log, [*witnesses, *required])
    missing = [w.name for w in required if w.name not in scp.cosigners]
    if missing:
        raise NoteError(
            f"no valid cosignature by required witness(es) {missing}",
            code="tlog-proof.missing-cosignature",
        )
    cp = scp.checkpoint
    try:
        merkle.verify_inclusion(leaf, p.index, cp.size, list(p.proof), cp.root)
    except ProofError as exc:
        raise NoteError(f"inclusion proof: {exc.message}", code="tlog-proof.not-included") from None
    return ProofResult(p.index, scp)


# -- tlog-witness add-checkpoint ------------------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpoint:
    """An add-checkpoint request body (tlog-witness, "add-checkpoint")."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}", *(b64std(h) for h in self.proof)]
        return ("\n".join(lines) + "\n\n" + self.checkpoint).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> AddCheckpoint:
        if len(data) > MAX_NOTE_BYTES + 4096:
            raise NoteError("request body too large")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("the body is UTF-8") from None
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise NoteError("an empty line separates the proof from the checkpoint")
        lines = head.split("\n")
        if not re.fullmatch(r"old [0-9]+", lines[0]):
            raise NoteError("the first line is `old <size>`")
        old = decimal(lines[0][4:], "old size")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise NoteError("at most 63 consistency proof lines")
        return cls(old, tuple(_hashes(lines[1:], "consistency proof")), note)


def checkpoint_of(note_text: str) -> Checkpoint:
    """The checkpoint body of a note, unverified (for routing by origin only)."""
    head, sep, _ = note_text.rpartition("\n\n")
    if not sep:
        raise NoteError("not a signed note")
    return Checkpoint.parse(head + "\n")


# -- tlog-tiles ---------------------------------------------------------------------------------


def tile_index_path(n: int) -> str:
    """`<N>` as zero-padded 3-digit elements, all but the last prefixed `x` (tlog-tiles)."""
    parts = []
    while True:
        parts.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    return "/".join([*(f"x{p}" for p in reversed(parts[1:])), parts[0]])


def parse_tile_index(path: str) -> int:
    """The inverse of `tile_index_path`; NoteError for any other spelling."""
    parts = path.split("/")
    if not parts or len(parts) > 7:
        raise NoteError("bad tile index")
    for p in parts[:-1]:
        if not re.fullmatch(r"x[0-9]{3}", p):
            raise NoteError("bad tile index")
    if not re.fullmatch(r"[0-9]{3}", parts[-1]):
        raise NoteError("bad tile index")
    n = 0
    for p in parts:
        n = n * 1000 + int(p.lstrip("x"))
    if tile_index_path(n) != path:
        raise NoteError("bad tile index")
    return n


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Big-endian uint16 length-prefixed entries (tlog-tiles, "Log entries")."""
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY:
            raise NoteError("an entry in a bundle is at most 65535 bytes")
        out += struct.pack(">H", len(e)) + e
    return bytes(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise NoteError("truncated entry bundle")
        (n,) = struct.unpack(">H", data[i : i + 2])
        if i + 2 + n > len(data):
            raise NoteError("truncated entry bundle")
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out
