"""Shared fixtures for the attest tests: keys of both families and typical evidence."""

from __future__ import annotations

import hashlib

import pytest

from attest.commitment import TXN_SALT_BYTES, transaction_nonce
from attest.evidence import Evidence
from attest.keys import EDDSA, ES256, SigningKey
from attest.sample import sample_evidence

NOW = 1_790_000_000


def typical_nonce(txn: bool) -> bytes:
    """A nonce of the verifier's sizes (verifier.service.Verifier.issue_challenge): 32
    bytes made from a relying party's transaction, else 16 (random there, fixed here)."""
    if txn:
        return transaction_nonce(b"s" * TXN_SALT_BYTES, hashlib.sha256(b"txn").digest())
    return hashlib.sha256(b"nonce").digest()[:16]


def evidence(txn: bool = True, **changes: object) -> Evidence:
    """The typical token's claims (attest.sample), with optional field changes."""
    ev = sample_evidence(nonce=typical_nonce(txn), cti=bytes(range(16)), now=NOW)
    if changes:
        import dataclasses

        ev = dataclasses.replace(ev, **changes)  # type: ignore[arg-type]
    return ev


@pytest.fixture(scope="session")
def es256_key() -> SigningKey:
    return SigningKey.generate(ES256)


@pytest.fixture(scope="session")
def eddsa_key() -> SigningKey:
    return SigningKey.generate(EDDSA)


@pytest.fixture(scope="session", params=["es256", "eddsa"])
def any_key(
    request: pytest.FixtureRequest, es256_key: SigningKey, eddsa_key: SigningKey
) -> SigningKey:
    return es256_key if request.param == "es256" else eddsa_key
