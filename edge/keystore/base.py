"""The device signing key behind a small protocol, and its bridge to attest's signers.

The session signs evidence with whatever key the device has: a software key file on a
development board, a TPM key on a deployed one. Both answer the same four questions
(algorithm, kid, public key, sign), so the session never knows which it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from attest.errors import SignatureError
from attest.keys import ED25519, EDDSA, ES256, ESP256, PublicKey, alg_name
from edge.keystore.errors import KeySpecError, SigningError

# "EdDSA" names an Ed25519 key, pinned to the fully specified Ed25519 (-19): RFC 9864
# deprecates the polymorphic -8, and the verifier refuses new enrolments of it. The number
# -8 still parses, for keys that were pinned to it before.
ALG_BY_NAME = {"ES256": ES256, "ESP256": ESP256, "EDDSA": ED25519, "ED25519": ED25519}


def parse_alg(name: str) -> int:
    """A COSE algorithm from its name (ES256, EdDSA, ...) or its number (-7, -8, ...)."""
    key = name.strip().upper()
    if key in ALG_BY_NAME:
        return ALG_BY_NAME[key]
    try:
        number = int(key)
    except ValueError:
        number = 0
    if number in (*ALG_BY_NAME.values(), EDDSA):
        return number
    raise KeySpecError(f"unknown algorithm {name!r}; use ES256 or EdDSA", code="keystore.bad-alg")


@runtime_checkable
class KeyStore(Protocol):
    """A device signing key whose private half may never be visible to this process."""

    @property
    def alg(self) -> int:
        """The COSE algorithm the key is pinned to (RFC 9053; ES256 for a TPM)."""
        ...

    @property
    def kid(self) -> bytes:
        """RFC 9679 thumbprint of the public COSE_Key: what the verifier pins."""
        ...

    def public_key(self) -> PublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """A raw COSE signature over `data`: r||s for ECDSA (RFC 9053 section 2.1)."""
        ...


@dataclass(frozen=True)
class CoseSigner:
    """A store as an `attest.cose.Signer` (`alg`, `kid`, `sign`): what attest signs with.

    Each signature is checked against the store's public key before it is handed out, so
    a faulty TPM or a mismatched key blob fails here with a clear error instead of as an
    anonymous `cose.bad-signature` at the verifier. The check costs one verification per
    session.
    """

    store: KeyStore
    alg: int = field(init=False)
    kid: bytes = field(init=False)
    public: PublicKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        public = self.store.public_key()
        if public.alg != self.store.alg or public.kid != self.store.kid:
            raise SigningError("the key store's public key does not match its alg/kid")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "alg", public.alg)
        object.__setattr__(self, "kid", public.kid)

    def sign(self, data: bytes) -> bytes:
        signature = self.store.sign(data)
        try:
            self.public.verify(signature, data)
        except SignatureError:
            raise SigningError(
                f"the {alg_name(self.alg)} signature from {self.store!r} does not verify "
                "with its own public key"
            ) from None
        return signature


def cose_signer(store: KeyStore) -> CoseSigner:
    """`store` as the `attest.cose.Signer` that `attest.cose.sign1` and friends take."""
    return CoseSigner(store)
