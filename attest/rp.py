"""Offline validation of attestation results, for relying parties.

A relying party holds the verifier's published key set and the nonce or transaction hash
it bound the verification to. With those two and a clock it can decide, without calling
anybody, whether a result is genuine, fresh, meant for this transaction, and what it says.
No network and no clock here: `now` is passed in (the caller's clock), like everything else
in attest.

Trust tier and face-match decision are reported separately: `Status.AFFIRMING` says the
device and its evidence were trustworthy; `decision` says whether the faces matched.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from attest.cose import KeyLookup
from attest.ear import Ear, Status, unwrap_cmw, verify_ear_cwt, verify_ear_jwt
from attest.errors import ResultError
from attest.evidence import Decision

DEFAULT_MAX_AGE_S = 600
CLOCK_SKEW_S = 60


@dataclass(frozen=True)
class ValidatedResult:
    """A result whose signature, freshness and binding have been checked."""

    ear: Ear
    serialisation: str  # "cwt" or "jwt"

    @property
    def tier(self) -> Status:
        return self.ear.status

    @property
    def decision(self) -> Decision | None:
        return self.ear.decision

    @property
    def accepted(self) -> bool:
        """Affirming evidence and matching faces: the only outcome to act on as "verified"."""
        return self.ear.status is Status.AFFIRMING and self.ear.decision is Decision.MATCH


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def validate_result(
    token: bytes | str,
    keys: KeyLookup,
    *,
    now: int,
    expected_txn_hash: bytes | None = None,
    expected_nonce: bytes | None = None,
    max_age_s: int = DEFAULT_MAX_AGE_S,
) -> ValidatedResult:
    """Check a CWT (bytes) or JWT (text) result, bare or wrapped in a record CMW, of either
    EAR profile (draft-ietf-rats-ear-04, or Veraison's 2023 one); raise an AttestError with
    a reason code.

    At least one binding is required: the transaction hash the relying party supplied when
    it asked for the challenge, or the nonce. Without one, a result for somebody else's
    verification would validate just as well. The transaction binding reaches down to the
    device's signature: decoding refuses a result whose nonce is not made from its
    transaction hash and salt (`ear.unbound-transaction`).
    """
    if expected_txn_hash is None and expected_nonce is None:
        raise ResultError(
            "give the transaction hash or the nonce the result must be bound to",
            code="rp.no-binding",
        )
    if isinstance(token, str):
        token = token.strip()
    if isinstance(token, str) and token.startswith("["):
        token = unwrap_cmw(token)  # a JSON record CMW (draft-ietf-rats-msg-wrap-23)
    elif isinstance(token, bytes | bytearray) and token[:1] in (b"\x82", b"\x83", b"["):
        token = unwrap_cmw(bytes(token))  # a CBOR (or JSON) record CMW
    # draft-ietf-rats-ear-04 section 4: a receiver ignores claims it does not know.
    if isinstance(token, str):
        ear, kind = verify_ear_jwt(token.strip(), keys, closed=False), "jwt"
    elif isinstance(token, bytes | bytearray) and token[:1] != b"\xd2" and token.count(b".") == 2:
        jwt = bytes(token).decode("ascii", "replace").strip()
        ear, kind = verify_ear_jwt(jwt, keys, closed=False), "jwt"
    else:
        ear, kind = verify_ear_cwt(bytes(token), keys, closed=False), "cwt"
    if ear.exp is not None and now >= ear.exp:
        # draft-ietf-rats-ear-04 section 3: after exp the result MUST NOT be accepted.
        raise ResultError(f"result expired at {ear.exp}", code="rp.expired")
    if ear.iat > now + CLOCK_SKEW_S:
        raise ResultError(
            f"result issued {ear.iat - now} s in the future: check the clocks",
            code="rp.not-yet-valid",
        )
    if now - ear.iat > max_age_s:
        raise ResultError(
            f"result is {now - ear.iat} s old, more than the {max_age_s} s accepted",
            code="rp.expired",
        )
    if expected_txn_hash is not None:
        if ear.txn_hash is None:
            raise ResultError("result is not bound to any transaction", code="rp.wrong-transaction")
        if not _same(ear.txn_hash, expected_txn_hash):
            raise ResultError("result is bound to another transaction", code="rp.wrong-transaction")
    if expected_nonce is not None and not _same(ear.nonce, expected_nonce):
        raise ResultError("result answers another challenge nonce", code="rp.wrong-nonce")
    return ValidatedResult(ear, kind)
