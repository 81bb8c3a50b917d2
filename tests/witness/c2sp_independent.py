"""An independent checker of C2SP checkpoints, cosignatures and tlog-proofs, for tests.

Written from the specification text (signed-note@v1.0.0, tlog-checkpoint@v1.0.0,
tlog-cosignature@v1.0.1, tlog-proof@v1, RFC 6962 section 2.1) and deliberately sharing no
code with the project: it imports only the standard library and `cryptography`'s Ed25519.
If the project and this file misread the text the same way, the spec's own example vectors
(checked in test_independent_checker_agrees_with_the_spec_examples) catch it.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class BadError(Exception):
    pass


def vkey(text: str) -> tuple[str, bytes, int, bytes]:
    """name+hex(id)+base64(type||key) -> (name, id, type, key)."""
    name, hexid, b64 = text.strip().split("+", 2)
    blob = base64.b64decode(b64, validate=True)
    kid = bytes.fromhex(hexid)
    if hashlib.sha256(name.encode() + b"\n" + blob).digest()[:4] != kid:
        raise BadError("key id")
    return name, kid, blob[0], blob[1:]


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(text, [(name, raw signature incl. key id)]); text ends before the last blank line."""
    i = note.rindex("\n\n")
    text, sigpart = note[: i + 1], note[i + 2 :]
    sigs = []
    for line in sigpart.splitlines():
        if not line.startswith("\u2014 "):
            raise BadError("signature line")
        name, b64 = line[2:].split(" ")
        sigs.append((name, base64.b64decode(b64, validate=True)))
    if not sigs:
        raise BadError("no signatures")
    return text, sigs


def _ed25519(pub: bytes, sig: bytes, msg: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
    except InvalidSignature:
        return False
    return True


def check_note(note: str, keys: list[str]) -> dict[str, int]:
    """Names of the given keys that signed (value: cosignature timestamp, or 0)."""
    text, sigs = split_note(note)
    known = {(n, k): (t, p) for n, k, t, p in map(vkey, keys)}
    out: dict[str, int] = {}
    for name, raw in sigs:
        hit = known.get((name, raw[:4]))
        if hit is None:
            continue
        typ, pub = hit
        sig = raw[4:]
        if typ == 1:
            ok, ts = _ed25519(pub, sig, text.encode()), 0
        elif typ == 4:
            (ts,) = struct.unpack(">Q", sig[:8])
            msg = b"cosignature/v1\ntime " + str(ts).encode() + b"\n" + text.encode()
            ok = len(sig) == 72 and _ed25519(pub, sig[8:], msg)
        else:
            raise BadError("type")
        if not ok:
            raise BadError(f"signature by {name} fails")
        out[name] = ts
    return out


def checkpoint(note: str) -> tuple[str, int, bytes]:
    text, _ = split_note(note)
    lines = text.split("\n")
    origin, size, root = lines[0], lines[1], lines[2]
    if size != str(int(size)):
        raise BadError("size")
    r = base64.b64decode(root, validate=True)
    if len(r) != 32:
        raise BadError("root")
    return origin, int(size), r


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1 Merkle Tree Hash, by the definition (for small trees)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def root_of(entries: list[bytes]) -> bytes:
    return _mth(entries)


def inclusion_root(leaf_hash: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 6962 2.1.1 audit path, walked by recursion on the split (not RFC 9162's loop)."""

    def walk(m: int, n: int, p: list[bytes]) -> bytes:
        if n == 1:
            if p:
                raise BadError("path too long")
            return leaf_hash
        if not p:
            raise BadError("path too short")
        k = 1
        while k * 2 < n:
            k *= 2
        sibling, rest = p[-1], p[:-1]
        if m < k:
            return hashlib.sha256(b"\x01" + walk(m, k, rest) + sibling).digest()
        return hashlib.sha256(b"\x01" + sibling + walk(m - k, n - k, rest)).digest()

    return walk(index, size, path)


def check_tlog_proof(
    proof: str, entry: bytes, log_vkey: str, witness_vkeys: list[str]
) -> dict[str, int]:
    """tlog-proof "Verifying a tlog proof"; returns the witnesses that cosigned."""
    head, _, note = proof.partition("\n\n")
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise BadError("header")
    if lines[1].startswith("extra "):
        lines = lines[:1] + lines[2:]
    if not lines[1].startswith("index "):
        raise BadError("index")
    index = int(lines[1][6:])
    path = [base64.b64decode(x, validate=True) for x in lines[2:]]
    signers = check_note(note, [log_vkey, *witness_vkeys])
    log_name = vkey(log_vkey)[0]
    if log_name not in signers:
        raise BadError("not signed by the log")
    origin, size, root = checkpoint(note)
    if origin != log_name:
        raise BadError("origin")
    leaf = hashlib.sha256(b"\x00" + entry).digest()
    if inclusion_root(leaf, index, size, path) != root:
        raise BadError("inclusion")
    return {n: t for n, t in signers.items() if n != log_name}
