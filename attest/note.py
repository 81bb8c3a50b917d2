"""Signed notes, checkpoints and cosignatures: the C2SP text formats of a transparency log.

Implemented versions (each check below names its clause):
  * c2sp.org/signed-note@v1.0.0        notes, Ed25519 note signatures (type 0x01), vkeys
  * c2sp.org/tlog-checkpoint@v1.0.0    the checkpoint body: origin, size, root hash
  * c2sp.org/tlog-cosignature@v1.0.1   Ed25519 `cosignature/v1` timestamped signatures (0x04)

Why text: every auditor's and witness's tool of today (the Go `note` and `tlog` packages,
litewitness, Sigsum, Tessera) reads these formats, so our log is checkable by tools we did
not write. Keys are passed in as bytes (PEM or raw) and nothing here reads a file or a
clock: the timestamp of a cosignature is the caller's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from attest.errors import AttestError

SIGNED_NOTE = "c2sp.org/signed-note@v1.0.0"
TLOG_CHECKPOINT = "c2sp.org/tlog-checkpoint@v1.0.0"
TLOG_COSIGNATURE = "c2sp.org/tlog-cosignature@v1.0.1"

ALG_ED25519 = 0x01  # signed-note, "Signature types"
ALG_COSIGNATURE_V1 = 0x04  # tlog-cosignature, timestamped Ed25519 cosignatures
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962 section 2.1: MTH({}) = SHA-256()
MAX_NOTE_BYTES = 16 * 1024  # signed-note: verifiers SHOULD bound the size; >= 16 signatures fit
MAX_SIGNATURES = 64
_DASH = "\u2014 "  # em dash and space open every signature line (signed-note, "Format")
_SPACES = re.compile(r"\s", re.UNICODE)
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


class NoteError(AttestError, ValueError):
    """A note, checkpoint, cosignature or vkey that breaks its C2SP specification."""

    code = "note.malformed"


def b64std(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4), as every C2SP format uses."""
    return base64.b64encode(data).decode("ascii")


def b64std_decode(text: str, what: str) -> bytes:
    """Strict RFC 4648 section 4 base64: one encoding per value, so one note per content."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError(f"{what} is not standard base64") from None
    if b64std(raw) != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def decimal(text: str, what: str) -> int:
    """An ASCII decimal with no leading zeroes (tlog-checkpoint, "Note text", line 2)."""
    if not _DECIMAL.fullmatch(text) or int(text) >= 2**63:
        raise NoteError(f"{what} must be a decimal below 2^63 without leading zeroes")
    return int(text)


def check_key_name(name: str) -> None:
    """signed-note "Format": non-empty, no Unicode spaces, no plus."""
    if not name or _SPACES.search(name) or "+" in name or not name.isprintable():
        raise NoteError(f"key name {name!r} is empty or has a space, a plus or a control")


def key_id(name: str, alg: int, public: bytes) -> bytes:
    """SHA-256(key name || 0x0A || signature type || public key)[:4] (signed-note, "Signatures")."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public).digest()[:4]


def cosigned_message(body: str, timestamp: int) -> bytes:
    """tlog-cosignature "Ed25519 signed message": header line, time line, checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode("utf-8")


# -- keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    """A note verifier key (vkey): name, key ID, signature type and Ed25519 public key."""

    name: str
    alg: int
    public: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.alg not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError(f"signature type {self.alg:#04x} is not supported here")
        if len(self.public) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.alg, self.public)

    @property
    def vkey(self) -> str:
        """`<name>+hex(key ID)+base64(type || key)` (signed-note, "Verifier keys")."""
        return f"{self.name}+{self.key_id.hex()}+{b64std(bytes([self.alg]) + self.public)}"

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # the base64 part may itself hold a plus
        if len(parts) != 3:
            raise NoteError("a vkey is <name>+<hex key ID>+<base64 key>")
        name, kid, material = parts
        raw = b64std_decode(material, "vkey key material")
        if len(raw) < 2:
            raise NoteError("vkey key material is too short")
        v = cls(name, raw[0], raw[1:])
        if not re.fullmatch(r"[0-9a-f]{8}", kid) or bytes.fromhex(kid) != v.key_id:
            raise NoteError("vkey key ID does not match its name and key (signed-note)")
        return v

    def _check(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def verify(self, body: str, sig: bytes) -> int | None:
        """None unless `sig` (key ID stripped) signs `body`; else the cosignature's timestamp
        (type 0x04), or 0 for a plain note signature (type 0x01)."""
        if self.alg == ALG_ED25519:
            return 0 if len(sig) == 64 and self._check(sig, body.encode("utf-8")) else None
        # tlog-cosignature "Format": timestamped_signature = u64 timestamp || 64-byte sig.
        if len(sig) != 72:
            return None
        (ts,) = struct.unpack(">Q", sig[:8])
        if ts >= 2**63:
            return None
        return ts if self._check(sig[8:], cosigned_message(body, ts)) else None


class Signer:
    """An Ed25519 note key (type 0x01) or cosigner key (type 0x04) with its name."""

    def __init__(self, name: str, private: Ed25519PrivateKey, alg: int = ALG_ED25519) -> None:
        self.name = name
        self.alg = alg
        self._key = private
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifier = Verifier(name, alg, raw)

    @classmethod
    def generate(cls, name: str, alg: int = ALG_ED25519) -> Signer:
        return cls(name, Ed25519PrivateKey.generate(), alg)

    @classmethod
    def from_pem(cls, name: str, pem: bytes, alg: int = ALG_ED25519) -> Signer:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise NoteError("not a PEM private key", code="key.malformed") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise NoteError("note keys are Ed25519 (signed-note)", code="key.malformed")
        return cls(name, key, alg)

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def signature_line(self, sig: bytes) -> str:
        return f"{_DASH}{self.name} {b64std(self.verifier.key_id + sig)}\n"

    def sign_note(self, body: str) -> str:
        """A note signature line (type 0x01) over `body` (signed-note, "Ed25519 signatures")."""
        if self.alg != ALG_ED25519:
            raise NoteError("a cosigner key signs cosignatures, not notes")
        return self.signature_line(self._key.sign(body.encode("utf-8")))

    def cosign(self, body: str, timestamp: int) -> str:
        """A cosignature/v1 line over a checkpoint body (tlog-cosignature, "Format")."""
        if self.alg != ALG_COSIGNATURE_V1:
            raise NoteError("a note key signs notes, not cosignatures")
        if not 0 < timestamp < 2**63:
            raise NoteError("a cosignature's timestamp is a positive u64 below 2^63")
        sig = self._key.sign(cosigned_message(body, timestamp))
        return self.signature_line(struct.pack(">Q", timestamp) + sig)


# -- notes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    sig: bytes  # without the key ID
    line: str  # the whole line, newline included, as received


@dataclass(frozen=True)
class Note:
    """A parsed, not yet verified signed note: its text and its signature lines."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line for s in self.signatures)

    @classmethod
    def parse(cls, data: bytes | str) -> Note:
        """signed-note "Format": text ending in newline, a blank line, >= 1 signature lines."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if len(raw) > MAX_NOTE_BYTES:
            raise NoteError(f"a note is at most {MAX_NOTE_BYTES} bytes here")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note is UTF-8 (signed-note, Format)") from None
        if any(ord(c) < 0x20 and c != "\n" for c in text):
            raise NoteError("a note has no control characters other than newline")
        # The text is separated from the signatures by the last empty line.
        cut = text.rfind("\n\n")
        if cut < 0 or not text.endswith("\n"):
            raise NoteError("a note is text, a blank line and signature lines")
        body, sigs = text[: cut + 1], text[cut + 2 :]
        lines = sigs.split("\n")[:-1]
        if not lines:
            raise NoteError("a note has at least one signature line")
        if len(lines) > MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures")
        return cls(body, tuple(parse_signature_line(ln + "\n") for ln in lines))

    def signed_by(self, verifiers: Iterable[Verifier]) -> dict[str, int]:
        """The names of the known keys whose signature verifies, with each timestamp (0 for
        a plain note signature).

        signed-note "Signatures": a signature whose (name, key ID) matches no known key is
        ignored; one that matches and fails rejects the whole note.
        """
        known = {(v.name, v.key_id): v for v in verifiers}
        ok: dict[str, int] = {}
        for s in self.signatures:
            v = known.get((s.name, s.key_id))
            if v is None:
                continue
            ts = v.verify(self.text, s.sig)
            if ts is None:
                raise NoteError(
                    f"signature by {s.name} ({s.key_id.hex()}) does not verify",
                    code="note.bad-signature",
                )
            ok[s.name] = ts
        return ok

    def with_signatures(self, lines: Iterable[Signature]) -> Note:
        """This note with more signature lines; a line already present is not repeated."""
        have = {(s.name, s.key_id) for s in self.signatures}
        extra = []
        for s in lines:
            if (s.name, s.key_id) not in have:
                have.add((s.name, s.key_id))
                extra.append(s)
        return Note(self.text, (*self.signatures, *extra))


def parse_signature_line(line: str) -> Signature:
    """`— <key name> base64(key ID || signature)` followed by a newline."""
    if not line.startswith(_DASH) or not line.endswith("\n"):
        raise NoteError("a signature line is an em dash, a space, a name, a space, base64")
    name, sep, b64 = line[len(_DASH) : -1].partition(" ")
    if not sep:
        raise NoteError("a signature line has a key name and a signature")
    check_key_name(name)
    raw = b64std_decode(b64, "signature")
    if len(raw) < 5:
        raise NoteError("a signature is a 4-byte key ID and the signature bytes")
    return Signature(name, raw[:4], raw[4:], line)


def parse_signature_lines(data: bytes | str) -> list[Signature]:
    """A witness's add-checkpoint answer: one or more signature lines (tlog-witness)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not text.endswith("\n") or len(text) > MAX_NOTE_BYTES:
        raise NoteError("signature lines end in a newline")
    return [parse_signature_line(ln + "\n") for ln in text.split("\n")[:-1]]


def open_note(data: bytes | str, verifiers: Sequence[Verifier]) -> tuple[Note, dict[str, int]]:
    """Parse a note and require at least one verifying signature by a known key."""
    note = Note.parse(data)
    ok = note.signed_by(verifiers)
    if not ok:
        raise NoteError("no signature by a known key", code="note.unverified")
    return note, ok


# -- checkpoints --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size, RFC 6962 root hash (tlog-checkpoint, "Note text")."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or not self.origin.isprintable():
            raise NoteError(
                "the origin line is non-empty printable text", code="checkpoint.malformed"
            )
        if not 0 <= self.size < 2**63 or len(self.root) != 32:
            raise NoteError("size is a u63 and the root 32 bytes", code="checkpoint.malformed")

    def body(self) -> str:
        lines = [self.origin, str(self.size), b64std(self.root), *self.extensions]
        return "".join(ln + "\n" for ln in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not ln for ln in lines[:-1]):
            raise NoteError(
                "a checkpoint is at least three non-empty lines (tlog-checkpoint)",
                code="checkpoint.malformed",
            )
        try:
            size = decimal(lines[1], "tree size")
            root = b64std_decode(lines[2], "root hash")
        except NoteError as exc:
            raise NoteError(exc.message, code="checkpoint.malformed") from None
        return cls(lines[0], size, root, tuple(lines[3:-1]))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified, with the cosigners whose did too."""

    checkpoint: Checkpoint
    note: Note
    cosigners: dict[str, int]  # cosigner name -> cosignature timestamp

    @property
    def text(self) -> str:
        return self.note.encode()


def sign_checkpoint(cp: Checkpoint, key: Signer) -> Note:
    """A checkpoint note signed by the log (tlog-checkpoint, "Signatures": name = origin)."""
    body = cp.body()
    return Note(body, (parse_signature_line(key.sign_note(body)),))


def open_checkpoint(
    data: bytes | str, log: Verifier, witnesses: Sequence[Verifier] = ()
) -> SignedCheckpoint:
    """Verify a checkpoint: the log's signature, then every known witness's cosignature.

    The origin must be the log key's name: a log signs only its own origin
    (tlog-checkpoint, "Signatures").
    """
    note = Note.parse(data)
    cp = Checkpoint.parse(note.text)
    if cp.origin != log.name:
        raise NoteError(
            f"checkpoint origin {cp.origin!r} is not the log {log.name!r}", code="note.unverified"
        )
    if log.name not in note.signed_by([log]):
        raise NoteError("the checkpoint is not signed by the log's key", code="note.unverified")
    cos = [w for w in witnesses if w.alg == ALG_COSIGNATURE_V1]
    return SignedCheckpoint(cp, note, note.signed_by(cos))
