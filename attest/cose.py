"""COSE_Sign1 (RFC 9052 section 4.2) under edgeproof's strict profile.

The profile (ARCHITECTURE.md, "The attestation (evidence) profile, v1"):
- tagged COSE_Sign1 (tag 18, RFC 9052 section 2);
- protected header exactly `{1: alg, 4: kid}`, unprotected header empty, so nothing that
  matters can be changed without breaking the signature;
- `alg` is read only from the protected header and must equal the algorithm the caller
  pinned for that kid (RFC 9052 section 3.1 leaves this to the application; we insist);
- `crit` (label 2) is never understood, so its presence is an error (RFC 9052 section 3.1);
- the payload is present (not detached).

`decode_sign1` is the lenient structural layer (RFC 9052 only) used by `inspect` and by the
public test vectors; `verify_sign1` adds the profile and the signature check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from attest import cbor
from attest.errors import CoseError, DecodeError, SignatureError, UnknownKeyError
from attest.keys import ALG_NAMES, PublicKey
from attest.trusted import trusted

COSE_SIGN1_TAG = 18
HDR_ALG, HDR_CRIT, HDR_KID = 1, 2, 4
MAX_TOKEN_SIZE = 16 * 1024

KeyLookup = Mapping[bytes, PublicKey] | Callable[[bytes], PublicKey]


class Signer(Protocol):
    """Anything that signs like attest.keys.SigningKey: a software key or a TPM-held one."""

    @property
    def alg(self) -> int: ...

    @property
    def kid(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1, not yet trusted."""

    protected_bytes: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    tagged: bool

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        """Sig_structure for "Signature1" (RFC 9052 section 4.4)."""
        return sig_structure(self.protected_bytes, self.payload, external_aad)

    @property
    def alg(self) -> Any:
        return self.protected.get(HDR_ALG)

    @property
    def kid(self) -> Any:
        return self.protected.get(HDR_KID)


_SIG1_PREFIX = cbor.encode("Signature1")
_SIG1_HEAD = b"\x84" + _SIG1_PREFIX  # the array head and its first item


def sig_structure(protected_bytes: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """Deterministic encoding of ["Signature1", protected, external_aad, payload]."""
    return b"".join(
        (
            b"\x84",
            _SIG1_PREFIX,
            cbor.bstr_head(len(protected_bytes)),
            protected_bytes,
            cbor.bstr_head(len(external_aad)),
            external_aad,
            cbor.bstr_head(len(payload)),
            payload,
        )
    )


def sign1(payload: bytes, key: Signer) -> bytes:
    """A tagged COSE_Sign1 with the profile's exact headers."""
    protected = cbor.encode({HDR_ALG: key.alg, HDR_KID: key.kid})
    signature = key.sign(sig_structure(protected, payload))
    return cbor.encode(cbor.Tag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def decode_sign1(
    token: bytes, *, require_tag: bool = True, max_size: int = MAX_TOKEN_SIZE
) -> Sign1:
    """Structural decoding (RFC 9052 sections 2, 3 and 4.2), strict CBOR, no profile."""
    top = cbor.decode(token, max_size=max_size, allowed_tags=frozenset({COSE_SIGN1_TAG}))
    tagged = isinstance(top, cbor.Tag)
    if tagged:
        value = top.value
    elif require_tag:
        raise CoseError("expected a tagged COSE_Sign1 (tag 18)", code="cose.not-sign1")
    else:
        value = top
    if isinstance(value, cbor.Tag):
        raise CoseError("nested tags around COSE_Sign1", code="cose.not-sign1")
    if not isinstance(value, list) or len(value) != 4:
        raise CoseError("COSE_Sign1 is an array of 4 items", code="cose.not-sign1")
    protected_bytes, unprotected, payload, signature = value
    if not isinstance(protected_bytes, bytes):
        raise CoseError("protected header must be a byte string", code="cose.bad-header")
    if protected_bytes:
        try:
            protected = cbor.decode(protected_bytes, max_size=1024)
        except DecodeError as exc:
            raise CoseError(f"protected header: {exc.message}", code="cose.bad-header") from None
        if not isinstance(protected, dict):
            raise CoseError("protected header must encode a map", code="cose.bad-header")
        # An encoded empty map (h'A0') is structurally valid: RFC 9052 section 3 asks
        # senders to prefer the zero-length string, and recipients to accept both. The
        # strict profile (check_profile) rejects it anyway: it wants exactly {1, 4}.
    else:
        protected = {}
    if not isinstance(unprotected, dict):
        raise CoseError("unprotected header must be a map", code="cose.bad-header")
    dup = set(protected) & set(unprotected)
    if dup:
        # RFC 9052 section 3: a label must not occur in both buckets.
        raise CoseError(f"labels {sorted(dup)} in both header buckets", code="cose.bad-header")
    if payload is None:
        raise CoseError("detached payloads are not supported", code="cose.detached-payload")
    if not isinstance(payload, bytes):
        raise CoseError("payload must be a byte string", code="cose.not-sign1")
    if not isinstance(signature, bytes):
        raise CoseError("signature must be a byte string", code="cose.not-sign1")
    return Sign1(protected_bytes, protected, unprotected, payload, signature, tagged)


def check_profile(msg: Sign1) -> tuple[int, bytes]:
    """The strict header profile; returns (alg, kid)."""
    if not msg.tagged:
        raise CoseError("expected a tagged COSE_Sign1 (tag 18)", code="cose.not-sign1")
    if HDR_CRIT in msg.protected or HDR_CRIT in msg.unprotected:
        raise CoseError(
            "critical header parameters are not understood", code="cose.crit-unsupported"
        )
    if msg.unprotected:
        if HDR_ALG in msg.unprotected:
            raise CoseError("alg must be in the protected header", code="cose.alg-unprotected")
        raise CoseError("the unprotected header must be empty", code="cose.unprotected-not-empty")
    if set(msg.protected) != {HDR_ALG, HDR_KID}:
        extra = sorted(set(msg.protected) - {HDR_ALG, HDR_KID}, key=str)
        missing = sorted({HDR_ALG, HDR_KID} - set(msg.protected))
        raise CoseError(
            f"protected header must be exactly {{1: alg, 4: kid}} "
            f"(extra {extra}, missing {missing})",
            code="cose.bad-header",
        )
    alg, kid = msg.protected[HDR_ALG], msg.protected[HDR_KID]
    if not isinstance(alg, int) or isinstance(alg, bool) or alg not in ALG_NAMES:
        raise CoseError(f"unsupported algorithm {alg!r}", code="cose.unsupported-alg")
    if not isinstance(kid, bytes) or len(kid) != 32:
        raise CoseError("kid must be a 32-byte key thumbprint", code="cose.bad-kid")
    return alg, kid


# The profile leaves one byte layout (RFC 9052 section 4.2 in deterministic CBOR):
#   d2 84 | 58 26 a2 01 <alg> 04 58 20 <kid: 32> | a0 | <bstr head> <payload> | 58 40 <sig: 64>
# A token of exactly that layout is sliced at fixed offsets (`in_layout`); any other token
# takes the general path (decode_sign1 + check_profile), which also names the reason it is
# refused. `LAYOUT_HEAD` and `LAYOUT_TAIL` are the layout around the payload
# as pattern text without groups, so a caller can put a pattern for its payload in between
# and check envelope and payload in one match (attest.evidence does). Both paths give the
# same Sign1 and the same errors; tests check it on valid and mutated tokens.
_ALG_BY_BYTE = {cbor.encode(a)[0]: a for a in ALG_NAMES}
LAYOUT_HEAD = (
    rb"\xd2\x84\x58\x26\xa2\x01["
    + b"".join(re.escape(bytes((b,))) for b in _ALG_BY_BYTE)
    # The payload's bstr head, shortest form only (RFC 8949 section 4.2.1): 0..23 in the
    # initial byte, 24..255 in one byte, 256..65535 in two (a token is at most 16 KiB).
    + rb"]\x04\x58\x20.{32}\xa0(?:[\x40-\x57]|\x58[\x18-\xff]|\x59[\x01-\xff].)"
)
LAYOUT_TAIL = rb"\x58\x40.{64}"
_LAYOUT = re.compile(LAYOUT_HEAD, re.DOTALL)
_PAYLOAD_HEAD_AT, _SIG_SIZE = 43, 66  # offset of the payload's bstr head; 58 40 + r||s


def _payload_span(token: bytes) -> tuple[int, int] | None:
    """(start, end) of the payload of a token that starts with LAYOUT_HEAD, or None.

    Only the payload's length is left to check: its head must announce exactly the bytes
    between the head and the 66-byte signature item that ends the token.
    """
    h = token[_PAYLOAD_HEAD_AT]
    if h < 0x58:
        start, n = 44, h - 0x40
    elif h == 0x58:
        start, n = 45, token[44]
    else:  # 0x59, as LAYOUT_HEAD allows no other
        start, n = 46, token[44] << 8 | token[45]
    end = len(token) - _SIG_SIZE
    if start + n != end or token[end] != 0x58 or token[end + 1] != 0x40:
        return None
    return start, end


def profile_header(token: bytes, *, max_size: int = MAX_TOKEN_SIZE) -> tuple[int, bytes]:
    """(alg, kid) of a token under the strict profile; the signature is NOT checked.

    For callers that must know whose key to use before verifying (the verifier's
    appraisal reports structure, enrolment and algorithm pinning as checks of their own).
    """
    msg = strict_sign1(token, max_size=max_size)
    return msg.protected[HDR_ALG], msg.protected[HDR_KID]


def in_layout(token: bytes) -> tuple[Sign1, bytes] | None:
    """(Sign1, Sig_structure) of a token that starts with LAYOUT_HEAD (the caller matched it).

    None when the payload's length does not fit the token (the caller then takes the
    general path, `strict_sign1`, which names the reason). Otherwise the very Sign1 that
    `strict_sign1` returns, built by the one trusted constructor (attest.trusted): the
    pattern and `_payload_span` have checked every field `decode_sign1` and
    `check_profile` would. The signature is not checked here. The Sig_structure (RFC 9052
    section 4.4) is sliced from the token: the protected bstr as it stands, external_aad
    empty (h'' = 0x40), then the payload with its head; it equals `to_be_signed()`.
    """
    span = _payload_span(token)
    if span is None:
        return None
    start, end = span
    msg, f = trusted(Sign1)
    f["protected_bytes"] = token[4:42]
    f["protected"] = {HDR_ALG: _ALG_BY_BYTE[token[6]], HDR_KID: token[10:42]}
    f["unprotected"] = {}
    f["payload"] = token[start:end]
    f["signature"] = token[end + 2 :]
    f["tagged"] = True
    return msg, b"".join((_SIG1_HEAD, token[2:42], b"\x40", token[43:end]))


def strict_sign1(token: bytes, *, max_size: int = MAX_TOKEN_SIZE) -> Sign1:
    """The COSE_Sign1 under the strict profile (RFC 9052 section 4.2 and check_profile).

    One read of the envelope: the fixed layout when the token has it, else the general
    decoder, which also names the reason a token is refused. Signature NOT checked.
    """
    if isinstance(token, bytes) and len(token) <= max_size and _LAYOUT.match(token) is not None:
        fast = in_layout(token)
        if fast is not None:
            return fast[0]
    msg = decode_sign1(token, max_size=max_size)
    check_profile(msg)
    return msg


def verified_in_layout(token: bytes, keys: KeyLookup) -> Sign1 | None:
    """in_layout, then the signature: verify_sign1 for a token that starts with LAYOUT_HEAD."""
    fast = in_layout(token)
    if fast is None:
        return None
    msg, tbs = fast
    check_signature(keys, msg.protected[HDR_ALG], msg.protected[HDR_KID], msg.signature, tbs)
    return msg


def verify_sign1(token: bytes, keys: KeyLookup, *, max_size: int = MAX_TOKEN_SIZE) -> Sign1:
    """Decode, apply the profile, find the pinned key by kid, check alg and signature."""
    if isinstance(token, bytes) and len(token) <= max_size and _LAYOUT.match(token) is not None:
        fast = verified_in_layout(token, keys)
        if fast is not None:
            return fast
    msg = strict_sign1(token, max_size=max_size)
    verify_signature(msg, keys)
    return msg


def verify_signature(msg: Sign1, keys: KeyLookup) -> None:
    """The signature of a Sign1 that passed the strict profile, by the key pinned for its kid."""
    p = msg.protected
    check_signature(keys, p[HDR_ALG], p[HDR_KID], msg.signature, msg.to_be_signed())


def check_signature(keys: KeyLookup, alg: int, kid: bytes, signature: bytes, tbs: bytes) -> None:
    """The key pinned for `kid` must be pinned to `alg` and verify `signature` over `tbs`."""
    key = lookup_key(keys, kid)
    if not key.accepts_alg(alg):
        raise SignatureError(
            f"token says {ALG_NAMES[alg]} but the key is pinned to {ALG_NAMES[key.alg]}",
            code="cose.alg-not-pinned",
        )
    key.verify(signature, tbs)


def lookup_key(keys: KeyLookup, kid: bytes) -> PublicKey:
    if callable(keys):
        return keys(kid)
    try:
        return keys[kid]
    except KeyError:
        raise UnknownKeyError(f"no key known for kid {kid.hex()}") from None
