"""Shared fixtures for the attest tests: keys of both families and typical evidence."""

from __future__ import annotations

import hashlib

import pytest

from attest.evidence import Evidence
from attest.keys import EDDSA, ES256, SigningKey
from attest.sample import sample_evidence

NOW = 1_790_000_000


def evidence(txn: bool = True, **changes: object) -> Evidence:
    """The typical token's claims (attest.sample), with optional field changes."""
    ev = sample_evidence(
        nonce=hashlib.sha256(b"nonce").digest(),
        cti=bytes(range(16)),
        now=NOW,
        txn_hash=hashlib.sha256(b"txn").digest() if txn else None,
    )
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
