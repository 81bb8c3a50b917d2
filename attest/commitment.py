"""Relying-party commitment to the expected document, without revealing it.

A relying party that already knows which passport to expect (say, from a prior account
opening) sends, with its challenge request, a salted hash of the document number. The
verifier stores and forwards it without being able to read it; the device recomputes it
from the chip's DG1 and reports only whether it matched (evidence claim `rp_commitment`).

    commitment = SHA-256("edgeproof document commitment v1" || 0x00 || salt || number)

where `number` is the document number as printed in the MRZ without filler characters
('<'), upper case, ASCII (ICAO 9303-4 section 4.2.2), and `salt` is 16 to 64 random bytes
chosen by the relying party, so that the commitment cannot be reversed by trying all
document numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import re

LABEL = b"edgeproof document commitment v1\x00"
_DOCNUM = re.compile(rb"[A-Z0-9]{1,22}")


def normalise_document_number(number: str | bytes | bytearray) -> bytes:
    """Accepts the bytes of a wipeable buffer too, so callers need not make a str copy."""
    raw = number.encode("ascii", "replace") if isinstance(number, str) else bytes(number)
    cleaned = raw.replace(b"<", b"").strip().upper()
    if not _DOCNUM.fullmatch(cleaned):
        raise ValueError("a document number is 1 to 22 letters and digits")
    return cleaned


def document_commitment(salt: bytes, document_number: str | bytes | bytearray) -> bytes:
    if not 16 <= len(salt) <= 64:
        raise ValueError("the commitment salt must be 16 to 64 bytes")
    return hashlib.sha256(LABEL + salt + normalise_document_number(document_number)).digest()


def commitment_matches(
    salt: bytes, commitment: bytes, document_number: str | bytes | bytearray
) -> bool:
    """Constant-time comparison: the device learns only yes or no, like the verifier."""
    return hmac.compare_digest(document_commitment(salt, document_number), commitment)
