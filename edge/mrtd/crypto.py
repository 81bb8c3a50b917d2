"""Symmetric primitives of ICAO 9303-11 section 9: padding, KDF, 3DES/AES, MACs.

Only `cryptography` is used; 3DES lives in its `decrepit` module because 9303 still needs it
for BAC and 3DES PACE.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from edge.mrtd.errors import SecureMessagingError

CipherName = Literal["3DES", "AES"]


def pad(data: bytes, block: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2 (9303-11 section 9.8.3)."""
    return data + b"\x80" + b"\x00" * ((block - (len(data) + 1) % block) % block)


def unpad(data: bytes) -> bytes:
    """Strict inverse of `pad`: a missing 0x80 marker is a secure-messaging error."""
    end = data.rstrip(b"\x00")
    if not end or end[-1] != 0x80:
        raise SecureMessagingError(
            "decrypted data lacks ISO 9797-1 method 2 padding", code="sm.bad-padding"
        )
    return end[:-1]


def kdf(secret: bytes, counter: int, cipher: CipherName, key_len: int = 16) -> bytes:
    """Key derivation function, 9303-11 section 9.7.1.

    3DES and AES-128 take SHA-1, AES-192/256 take SHA-256; 3DES keys get DES parity bits.
    """
    data = secret + counter.to_bytes(4, "big")
    if cipher == "3DES":
        return _adjust_parity(hashlib.sha1(data).digest()[:16])  # noqa: S324 (mandated by 9303)
    if key_len == 16:
        return hashlib.sha1(data).digest()[:16]  # noqa: S324
    return hashlib.sha256(data).digest()[:key_len]


def _adjust_parity(key: bytes) -> bytes:
    """DES keys carry odd parity in the low bit of each byte (FIPS 46-3)."""
    out = bytearray(key)
    for i, b in enumerate(out):
        out[i] = (b & 0xFE) | ((bin(b >> 1).count("1") + 1) & 1)
    return bytes(out)


def des3_cbc(key: bytes, data: bytes, *, decrypt: bool = False, iv: bytes = bytes(8)) -> bytes:
    """Single DES (8-byte key) or two-key 3DES (16-byte key), spelled as three-key 3DES."""
    full = key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key
    c = Cipher(TripleDES(full), modes.CBC(iv))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def aes_cbc(key: bytes, data: bytes, *, decrypt: bool = False, iv: bytes = bytes(16)) -> bytes:
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def aes_ecb_block(key: bytes, block: bytes) -> bytes:
    op = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 (single block IV)
    return op.update(block) + op.finalize()


def retail_mac(key: bytes, padded: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES (9303-11 section 9.8.3.1); input already padded.

    Single-DES CBC over all blocks under Ka, then the last block through two-key 3DES
    (Ka, Kb): the same result as the standard's "decrypt with Kb, encrypt with Ka" final step.
    """
    ka = key[:8]
    head, last = padded[:-8], padded[-8:]
    h = des3_cbc(ka, head)[-8:] if head else bytes(8)
    x = bytes(a ^ b for a, b in zip(h, last, strict=True))
    return des3_cbc(key[:16], x)


def aes_cmac8(key: bytes, data: bytes) -> bytes:
    """AES-CMAC truncated to 8 bytes (9303-11 section 9.8.3.2)."""
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()[:8]


@dataclass(frozen=True)
class SessionKeys:
    """Secure-messaging keys of one cipher suite (9303-11 sections 9.7 and 9.8)."""

    cipher: CipherName
    enc: bytes
    mac: bytes

    @property
    def block(self) -> int:
        return 8 if self.cipher == "3DES" else 16

    def encrypt(self, data: bytes, ssc: bytes, *, decrypt: bool = False) -> bytes:
        """3DES uses a zero IV; AES uses IV = E(KSenc, SSC) (9303-11 section 9.8.6.1)."""
        if self.cipher == "3DES":
            return des3_cbc(self.enc, data, decrypt=decrypt)
        return aes_cbc(self.enc, data, decrypt=decrypt, iv=aes_ecb_block(self.enc, ssc))

    def mac8(self, padded: bytes) -> bytes:
        if self.cipher == "3DES":
            return retail_mac(self.mac, padded)
        return aes_cmac8(self.mac, padded)
