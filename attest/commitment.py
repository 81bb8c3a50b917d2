"""Relying-party commitments: to the expected document, and to the transaction.

Both let the device's signed evidence answer to a relying party without the device or the
verifier learning what the relying party knows.

The expected document. A relying party that already knows which passport to expect (say,
from a prior account opening) sends, with its challenge request, a salted hash of the
document number. The verifier stores and forwards it without being able to read it; the
device recomputes it from the chip's DG1 and reports only whether it matched (evidence
claim `rp_commitment`).

    commitment = SHA-256("edgeproof document commitment v1" || 0x00 || salt || number)

where `number` is the document number as printed in the MRZ without filler characters
('<'), upper case, ASCII (ICAO 9303-4 section 4.2.2), and `salt` is 16 to 64 random bytes
chosen by the relying party, so that the commitment cannot be reversed by trying all
document numbers.

The transaction. When a relying party names its transaction (a SHA-256 of its own bytes)
the verifier does not send it to the device; it issues the nonce

    nonce = SHA-256("edgeproof transaction nonce v1" || 0x00 || salt || txn_hash)

with a fresh random salt of 16 bytes. The device signs the nonce (eat_nonce, RFC 9711
section 4.1), so its signature covers the transaction, and the attestation result carries
the salt and the transaction hash, so anyone holding the result can check the binding.
The same construction as WebAuthn's clientDataHash or App Attest's nonce: the signer never
sees the relying party's data, only a digest that commits to it.
"""

from __future__ import annotations

import hashlib
import hmac
import re

LABEL = b"edgeproof document commitment v1\x00"
TXN_LABEL = b"edgeproof transaction nonce v1\x00"
TXN_SALT_BYTES = 16
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


def transaction_nonce(salt: bytes, txn_hash: bytes) -> bytes:
    """The nonce that binds evidence to `txn_hash`; its 32 bytes keep SHA-256's full
    collision resistance, so no one can find two transactions for one signed nonce."""
    if type(salt) is not bytes or len(salt) != TXN_SALT_BYTES:
        raise ValueError(f"the transaction salt must be {TXN_SALT_BYTES} bytes")
    if type(txn_hash) is not bytes or len(txn_hash) != 32:
        raise ValueError("the transaction hash must be a 32-byte SHA-256")
    return hashlib.sha256(TXN_LABEL + salt + txn_hash).digest()


def nonce_binds_transaction(nonce: bytes, salt: bytes, txn_hash: bytes) -> bool:
    """Whether `nonce` was made from this transaction (constant time, like the other)."""
    return hmac.compare_digest(transaction_nonce(salt, txn_hash), nonce)
