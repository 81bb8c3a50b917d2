"""Reading tokens given on the command line: a file path or `-` for standard input.

People paste tokens in every form, so one reader accepts them all and says which it saw:
raw CBOR bytes, hex, base64 / base64url (padded or not) of CBOR, a compact JWT (text
with two dots), or a result wrapped as a record CMW (draft-ietf-rats-msg-wrap-23 section 3.1:
a JSON array, or a CBOR array of two or three items), which `attest.rp` unwraps. Used by
`edgeproof attest inspect` and `edgeproof rp validate`.

It lives in `rp` because a relying party is the one handed tokens in all these forms, and
`rp` may not import the command-line package (that package loads `rp.cli`: a cycle); the
`attest` command imports it from here. Standard library only, like the rest of `rp`.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_INPUT = 64 * 1024
_HEX = re.compile(rb"[0-9a-fA-F\s]+")
_B64 = re.compile(rb"[A-Za-z0-9+/=_\-\s]+")
_JWT = re.compile(rb"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


class TokenInputError(ValueError):
    """The input could not be read (no such file, too large, empty)."""

    code = "input.unreadable"


class NotATokenError(TokenInputError):
    """The input was read but is no token in any form this reader knows."""

    code = "input.not-a-token"


@dataclass(frozen=True)
class TokenInput:
    data: bytes | str  # bytes for CBOR forms, str for a JWT
    form: str  # "cbor", "hex", "base64", "jwt", "cmw"


def read_source(source: str) -> bytes:
    """The bytes of a file path, or of standard input for `-` (bounded)."""
    if source == "-":
        raw = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        try:
            with Path(source).open("rb") as f:
                raw = f.read(MAX_INPUT + 1)
        except OSError as exc:
            raise TokenInputError(f"cannot read {source}: {exc.strerror}") from None
    if len(raw) > MAX_INPUT:
        raise TokenInputError(f"input larger than {MAX_INPUT} bytes")
    return raw


def parse_token(raw: bytes) -> TokenInput:
    """Guess the form: CBOR first (a COSE_Sign1 starts with tag 18, 0xd2), then text forms."""
    if raw[:1] == b"\xd2":
        return TokenInput(raw, "cbor")
    if raw[:1] in (b"\x82", b"\x83"):  # a CBOR array of 2 or 3: a record CMW
        return TokenInput(raw, "cmw")
    text = raw.strip()
    if text[:1] == b"[":  # a JSON record CMW
        return TokenInput(text, "cmw")
    if not text:
        raise TokenInputError("input is empty")
    if _JWT.fullmatch(text):
        return TokenInput(text.decode("ascii"), "jwt")
    if text.startswith(b"eyJ") or (b"." in text and _B64.fullmatch(text.replace(b".", b""))):
        # base64url of '{"' starts every JWT header: a JWT that lost or gained a dot.
        raise NotATokenError(
            "looks like a JWT but does not have three dot-separated base64url parts"
        )
    if _HEX.fullmatch(text):
        compact = b"".join(text.split())
        if len(compact) % 2 == 0:
            return _cose(binascii.unhexlify(compact), "hex")
    if _B64.fullmatch(text):
        compact = b"".join(text.split()).replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
        try:
            decoded = base64.b64decode(compact + b"=" * (-len(compact) % 4))
        except binascii.Error:
            pass
        else:
            return _cose(decoded, "base64")
    return _cose(raw, "cbor")


def _cose(data: bytes, form: str) -> TokenInput:
    """A COSE_Sign1 is tag 18 (0xd2) or, untagged, a 4-element array (0x84) (RFC 9052
    section 4.2); anything else is refused here rather than fed to the CBOR decoder."""
    if data[:1] not in (b"\xd2", b"\x84"):
        what = "bytes" if form == "cbor" else f"bytes decoded from {form}"
        raise NotATokenError(
            f"not a token: {len(data)} {what} that are neither a COSE_Sign1 nor a JWT"
        )
    return TokenInput(data, form)


def read_token(source: str) -> TokenInput:
    return parse_token(read_source(source))
