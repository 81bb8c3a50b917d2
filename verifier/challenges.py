"""Challenges: the nonce a device must sign, with the liveness gestures it must film.

Why the nonce is stored with its context (owner, transaction, commitment, method, gestures):
appraisal (verifier/appraisal.py) checks the evidence against what was issued, not against
what the evidence claims was issued (draft-ietf-rats-eat-31 section 4.1, `eat_nonce`).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete

from attest.challenge import challenge_spec
from attest.commitment import TXN_SALT_BYTES, transaction_nonce
from attest.evidence import LivenessMethod
from attest.keys import b64url
from verifier.context import Context
from verifier.policy import Policy
from verifier.storage import Nonce
from verifier.tokens import Caller

NONCE_BYTES = 16
METHOD_NAMES = {
    LivenessMethod.ACTIVE_NONCE: "active-nonce",
    LivenessMethod.ACTIVE_FIXED_DEMO: "active-fixed-demo",
}


class Challenges:
    """Issues nonces (one row each) and sweeps the expired ones."""

    def __init__(self, ctx: Context, policy: Policy) -> None:
        self.ctx = ctx
        self.policy = policy

    def issue(
        self, caller: Caller, txn_hash: bytes | None, commitment: bytes | None
    ) -> dict[str, Any]:
        # A named transaction goes into the nonce, not to the device (attest.commitment).
        salt: bytes | None = None
        if txn_hash is None:
            nonce = secrets.token_bytes(NONCE_BYTES)
        else:
            salt = secrets.token_bytes(TXN_SALT_BYTES)
            nonce = transaction_nonce(salt, txn_hash)
        now = self.ctx.now()
        challenge = self.policy.challenge_for(nonce)
        row = Nonce(
            nonce=nonce,
            issued_at=now,
            expires_at=now + self.ctx.config.nonce_ttl_s,
            owner_token_id=caller.token_id,
            txn_hash=txn_hash,
            txn_salt=salt,
            commitment=commitment,
            liveness_method=int(self.policy.liveness_method),
            challenge=challenge_spec(challenge),
        )
        with self.ctx.writer() as s, s.begin():
            s.add(row)
        return {
            "nonce": b64url(nonce),
            "issued_at": now,
            "expires_at": row.expires_at,
            "policy_id": self.policy.id,
            "liveness": {
                "method": METHOD_NAMES[self.policy.liveness_method],
                "challenge": [g.value for g in challenge],
            },
            "document_commitment": b64url(commitment) if commitment else None,
        }

    def purge(self, grace_s: int = 3600) -> int:
        """Delete challenges that expired unused more than `grace_s` ago; returns how many.

        Consumed nonces stay: the appraisal keeps its own copy, and keeping them makes a
        late replay answer `nonce.replayed` rather than `nonce.unknown`.
        """
        with self.ctx.writer() as s, s.begin():
            r = s.execute(
                delete(Nonce).where(
                    Nonce.consumed_at.is_(None), Nonce.expires_at < self.ctx.now() - grace_s
                ),
                execution_options={"synchronize_session": False},
            )
            return int(r.rowcount)
