"""A plausible evidence token for demos, benchmarks, tests and auditors' first look.

Pure like the rest of attest: the caller passes the time and the random bytes, so the same
inputs always give the same claims. The shape is the typical one a device sends after a
successful verification: the release manifest and all three model digests measured, a
nonce of 32 bytes from the verifier, made from a relying party's transaction
(attest.commitment.transaction_nonce).
"""

from __future__ import annotations

import hashlib

from attest.challenge import derive_challenge
from attest.evidence import (
    AntiClone,
    Consent,
    ConsentMethod,
    Decision,
    DocumentAuth,
    Erasure,
    Evidence,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
)

SAMPLE_SWNAME = "edgeproof-edge"
SAMPLE_SWVERSION = "0.1.0"
SAMPLE_THRESHOLD = Threshold("mfn-v1", -4)


def sample_measurements() -> dict[MeasuredItem, bytes]:
    """Stand-in digests: SHA-256 of each item's name (real devices hash the real files)."""
    return {m: hashlib.sha256(f"sample {m.name}".encode()).digest() for m in MeasuredItem}


def sample_evidence(
    *,
    nonce: bytes,
    cti: bytes,
    now: int,
    validity: int = 120,
) -> Evidence:
    """Evidence of one successful verification (match, live, chip authenticated)."""
    return Evidence(
        nonce=nonce,
        iat=now,
        exp=now + validity,
        cti=cti,
        swname=SAMPLE_SWNAME,
        swversion=SAMPLE_SWVERSION,
        measurements=sample_measurements(),
        decision=Decision.MATCH,
        score_band=ScoreBand.HIGH,
        threshold=SAMPLE_THRESHOLD,
        liveness=Liveness(LivenessMethod.ACTIVE_NONCE, derive_challenge(nonce), Outcome.PASSED),
        document=DocumentAuth(
            Outcome.PASSED, AntiClone.CHIP_AUTHENTICATION, Outcome.PASSED, expired=False
        ),
        consent=Consent(True, ConsentMethod.OPERATOR_CONFIRMED),
        erasure=Erasure(captured=148, erased=148, at=now - 2),
    )
