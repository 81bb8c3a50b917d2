"""Attestation results (EAR, draft-ietf-rats-ear) as the verifier signs them.

One result, two serialisations carrying the same claims:
- CWT: tagged COSE_Sign1 over deterministic CBOR (media type application/eat+cwt);
- JWT: compact JWS (RFC 7515) over JSON (application/eat+jwt), for services without CBOR.

The trust in the evidence (`status`, `trust_vector`) and the face-match `decision` are
separate claims on purpose: a genuine device can honestly report "no match".

No raw evidence is echoed (`ear.raw-evidence` is never set), only its SHA-256.

A result bound to a relying party's transaction carries the transaction hash and the salt
the verifier made the nonce from (attest.commitment.transaction_nonce); a result whose
nonce is not made from them is refused on decode, so a relying party that checks the
transaction hash checks the device's signed nonce too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from attest import cbor, cose
from attest.commitment import TXN_SALT_BYTES, nonce_binds_transaction
from attest.cose import KeyLookup, Signer
from attest.errors import ClaimsError, KeyFormatError, ResultError, SignatureError
from attest.evidence import Decision
from attest.keys import JOSE_ALG, b64url, b64url_decode

EAR_PROFILE = "tag:github.com,2023:veraison/ear"
SUBMOD = "edgeproof-device"
MAX_JWT_SIZE = 8 * 1024

# CBOR labels (draft-ietf-rats-ear section 3.2 / RFC 9711).
L_IAT, L_NONCE, L_PROFILE, L_SUBMODS = 6, 10, 265, 266
L_STATUS, L_TRUST_VECTOR, L_POLICY_ID, L_VERIFIER_ID = 1000, 1001, 1003, 1004
L_DEVELOPER, L_BUILD = 0, 1
# Trustworthiness vector claims (draft-ietf-rats-ar4si section 2.3.5 CBOR keys).
TV_LABELS = {"instance-identity": 0, "executables": 2, "hardware": 4, "sourced-data": 7}
# edgeproof's private extensions (Private Use labels, below -65536).
L_DECISION = -70001
L_TXN_HASH = -70002
L_APPRAISAL_ID = -70003
L_EVIDENCE_DIGEST = -70004
L_DEVICE_KID = -70005
L_TXN_SALT = -70006
J_DECISION = "edgeproof.decision"
J_TXN_HASH = "edgeproof.txn-hash"
J_APPRAISAL_ID = "edgeproof.appraisal-id"
J_EVIDENCE_DIGEST = "edgeproof.evidence-digest"
J_DEVICE_KID = "edgeproof.device-kid"
J_TXN_SALT = "edgeproof.txn-salt"

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")
DECISION_NAMES = {
    Decision.MATCH: "match",
    Decision.NO_MATCH: "no-match",
    Decision.INCONCLUSIVE: "inconclusive",
}
DECISION_BY_NAME = {v: k for k, v in DECISION_NAMES.items()}


class Status(IntEnum):
    """AR4SI trust tiers (draft-ietf-rats-ar4si section 2.3.3)."""

    NONE = 0
    AFFIRMING = 2
    WARNING = 32
    CONTRAINDICATED = 96

    @property
    def label(self) -> str:
        return self.name.lower()


STATUS_BY_NAME = {s.label: s for s in Status}


@dataclass(frozen=True)
class TrustVector:
    """AR4SI trustworthiness claims; each value -128..127 (0 means no claim)."""

    instance_identity: int = 0
    executables: int = 0
    hardware: int = 0
    sourced_data: int = 0

    def __post_init__(self) -> None:
        for name, v in self.items():
            if not isinstance(v, int) or isinstance(v, bool) or not -128 <= v <= 127:
                raise ClaimsError(f"trust vector {name} must be -128..127", code="ear.bad-claim")

    def items(self) -> list[tuple[str, int]]:
        return [
            ("instance-identity", self.instance_identity),
            ("executables", self.executables),
            ("hardware", self.hardware),
            ("sourced-data", self.sourced_data),
        ]

    @classmethod
    def from_items(cls, items: dict[str, int]) -> TrustVector:
        unknown = set(items) - set(TV_LABELS)
        if unknown:
            raise ClaimsError(
                f"unknown trust vector claims {sorted(unknown)}", code="ear.bad-claim"
            )
        return cls(*(items.get(n, 0) for n in TV_LABELS))


@dataclass(frozen=True)
class Ear:
    """One attestation result, as a relying party reads it."""

    iat: int
    status: Status
    trust_vector: TrustVector
    policy_id: str
    verifier_build: str
    nonce: bytes
    appraisal_id: str
    evidence_digest: bytes
    device_kid: bytes
    decision: Decision | None = None  # None when the evidence could not be trusted enough
    txn_hash: bytes | None = None
    txn_salt: bytes | None = None
    developer: str = "edgeproof"

    def __post_init__(self) -> None:
        if not isinstance(self.iat, int) or isinstance(self.iat, bool) or not 0 <= self.iat < 2**40:
            raise ClaimsError("iat must be a time in seconds", code="ear.bad-claim")
        if not isinstance(self.status, Status):
            raise ClaimsError("status must be an AR4SI tier", code="ear.bad-claim")
        for name in ("policy_id", "verifier_build", "appraisal_id", "developer"):
            v = getattr(self, name)
            if not isinstance(v, str) or not _ID.fullmatch(v):
                raise ClaimsError(f"{name} must be a short identifier", code="ear.bad-claim")
        if not isinstance(self.nonce, bytes) or not 8 <= len(self.nonce) <= 64:
            raise ClaimsError("eat_nonce must be 8 to 64 bytes", code="ear.bad-claim")
        for name in ("evidence_digest", "device_kid"):
            if not isinstance(getattr(self, name), bytes) or len(getattr(self, name)) != 32:
                raise ClaimsError(f"{name} must be 32 bytes", code="ear.bad-claim")
        if self.txn_hash is not None and (
            not isinstance(self.txn_hash, bytes) or len(self.txn_hash) != 32
        ):
            raise ClaimsError("txn_hash must be 32 bytes", code="ear.bad-claim")
        if self.txn_salt is not None and (
            not isinstance(self.txn_salt, bytes) or len(self.txn_salt) != TXN_SALT_BYTES
        ):
            raise ClaimsError(f"txn_salt must be {TXN_SALT_BYTES} bytes", code="ear.bad-claim")
        if (self.txn_hash is None) != (self.txn_salt is None):
            raise ClaimsError("txn_hash and txn_salt come together", code="ear.unbound-transaction")
        if (
            self.txn_hash is not None
            and self.txn_salt is not None
            and not nonce_binds_transaction(self.nonce, self.txn_salt, self.txn_hash)
        ):
            raise ClaimsError(
                "eat_nonce is not made from txn_salt and txn_hash: the device's signature"
                " does not cover this transaction",
                code="ear.unbound-transaction",
            )
        if self.decision is not None and not isinstance(self.decision, Decision):
            raise ClaimsError("decision must be a Decision", code="ear.bad-claim")

    # -- CBOR ------------------------------------------------------------------------------

    def to_cbor_claims(self) -> dict[int, Any]:
        sub: dict[int, Any] = {
            L_STATUS: int(self.status),
            L_TRUST_VECTOR: {TV_LABELS[n]: v for n, v in self.trust_vector.items() if v},
            L_POLICY_ID: self.policy_id,
        }
        if self.decision is not None:
            sub[L_DECISION] = int(self.decision)
        claims: dict[int, Any] = {
            L_PROFILE: EAR_PROFILE,
            L_IAT: self.iat,
            L_VERIFIER_ID: {L_DEVELOPER: self.developer, L_BUILD: self.verifier_build},
            L_NONCE: self.nonce,
            L_SUBMODS: {SUBMOD: sub},
            L_APPRAISAL_ID: self.appraisal_id,
            L_EVIDENCE_DIGEST: self.evidence_digest,
            L_DEVICE_KID: self.device_kid,
        }
        if self.txn_hash is not None:
            claims[L_TXN_HASH] = self.txn_hash
        if self.txn_salt is not None:
            claims[L_TXN_SALT] = self.txn_salt
        return claims

    @classmethod
    def from_cbor_claims(cls, claims: Any) -> Ear:
        try:
            return _parse_cbor(claims)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ClaimsError):
                raise
            raise ClaimsError(f"malformed EAR claims: {exc}", code="ear.bad-claim") from None

    # -- JSON ------------------------------------------------------------------------------

    def to_json_claims(self) -> dict[str, Any]:
        sub: dict[str, Any] = {
            "ear.status": self.status.label,
            "ear.trustworthiness-vector": {n: v for n, v in self.trust_vector.items() if v},
            "ear.appraisal-policy-id": self.policy_id,
        }
        if self.decision is not None:
            sub[J_DECISION] = DECISION_NAMES[self.decision]
        claims: dict[str, Any] = {
            "eat_profile": EAR_PROFILE,
            "iat": self.iat,
            "ear.verifier-id": {"developer": self.developer, "build": self.verifier_build},
            "eat_nonce": b64url(self.nonce),
            "submods": {SUBMOD: sub},
            J_APPRAISAL_ID: self.appraisal_id,
            J_EVIDENCE_DIGEST: b64url(self.evidence_digest),
            J_DEVICE_KID: b64url(self.device_kid),
        }
        if self.txn_hash is not None:
            claims[J_TXN_HASH] = b64url(self.txn_hash)
        if self.txn_salt is not None:
            claims[J_TXN_SALT] = b64url(self.txn_salt)
        return claims

    @classmethod
    def from_json_claims(cls, claims: Any) -> Ear:
        try:
            return _parse_json(claims)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ClaimsError):
                raise
            raise ClaimsError(f"malformed EAR claims: {exc}", code="ear.bad-claim") from None


def _closed(m: Any, allowed: set[Any], required: set[Any], what: str) -> dict[Any, Any]:
    if not isinstance(m, dict):
        raise ClaimsError(f"{what} must be a map", code="ear.bad-claim")
    extra = set(m) - allowed
    if extra:
        raise ClaimsError(
            f"{what} has claims outside the EAR profile: {sorted(extra, key=str)}",
            code="ear.unknown-claim",
        )
    missing = required - set(m)
    if missing:
        raise ClaimsError(f"{what} lacks {sorted(missing, key=str)}", code="ear.missing-claim")
    return m


def _parse_cbor(c: Any) -> Ear:
    top = {
        L_PROFILE,
        L_IAT,
        L_VERIFIER_ID,
        L_NONCE,
        L_SUBMODS,
        L_APPRAISAL_ID,
        L_EVIDENCE_DIGEST,
        L_DEVICE_KID,
    }
    c = _closed(c, top | {L_TXN_HASH, L_TXN_SALT}, top, "EAR")
    if c[L_PROFILE] != EAR_PROFILE:
        raise ClaimsError("not an EAR profile token", code="ear.wrong-profile")
    vid = _closed(
        c[L_VERIFIER_ID], {L_DEVELOPER, L_BUILD}, {L_DEVELOPER, L_BUILD}, "ear.verifier-id"
    )
    subs = _closed(c[L_SUBMODS], {SUBMOD}, {SUBMOD}, "submods")
    sub = _closed(
        subs[SUBMOD],
        {L_STATUS, L_TRUST_VECTOR, L_POLICY_ID, L_DECISION},
        {L_STATUS, L_TRUST_VECTOR, L_POLICY_ID},
        "submod",
    )
    by_label = {v: k for k, v in TV_LABELS.items()}
    tv = _closed(sub[L_TRUST_VECTOR], set(by_label), set(), "trust vector")
    return Ear(
        iat=c[L_IAT],
        status=Status(_int(sub[L_STATUS])),
        trust_vector=TrustVector.from_items({by_label[k]: v for k, v in tv.items()}),
        policy_id=sub[L_POLICY_ID],
        verifier_build=vid[L_BUILD],
        developer=vid[L_DEVELOPER],
        nonce=c[L_NONCE],
        appraisal_id=c[L_APPRAISAL_ID],
        evidence_digest=c[L_EVIDENCE_DIGEST],
        device_kid=c[L_DEVICE_KID],
        decision=Decision(_int(sub[L_DECISION])) if L_DECISION in sub else None,
        txn_hash=c.get(L_TXN_HASH),
        txn_salt=c.get(L_TXN_SALT),
    )


def _parse_json(c: Any) -> Ear:
    top = {
        "eat_profile",
        "iat",
        "ear.verifier-id",
        "eat_nonce",
        "submods",
        J_APPRAISAL_ID,
        J_EVIDENCE_DIGEST,
        J_DEVICE_KID,
    }
    c = _closed(c, top | {J_TXN_HASH, J_TXN_SALT}, top, "EAR")
    if c["eat_profile"] != EAR_PROFILE:
        raise ClaimsError("not an EAR profile token", code="ear.wrong-profile")
    vid = _closed(
        c["ear.verifier-id"], {"developer", "build"}, {"developer", "build"}, "ear.verifier-id"
    )
    subs = _closed(c["submods"], {SUBMOD}, {SUBMOD}, "submods")
    keys = {"ear.status", "ear.trustworthiness-vector", "ear.appraisal-policy-id"}
    sub = _closed(subs[SUBMOD], keys | {J_DECISION}, keys, "submod")
    status = STATUS_BY_NAME.get(sub["ear.status"])
    if status is None:
        raise ClaimsError(f"unknown ear.status {sub['ear.status']!r}", code="ear.bad-claim")
    decision = None
    if J_DECISION in sub:
        decision = DECISION_BY_NAME.get(sub[J_DECISION])
        if decision is None:
            raise ClaimsError(f"unknown decision {sub[J_DECISION]!r}", code="ear.bad-claim")
    txn, salt = c.get(J_TXN_HASH), c.get(J_TXN_SALT)
    return Ear(
        iat=_int(c["iat"]),
        status=status,
        trust_vector=TrustVector.from_items(
            _closed(sub["ear.trustworthiness-vector"], set(TV_LABELS), set(), "trust vector")
        ),
        policy_id=sub["ear.appraisal-policy-id"],
        verifier_build=vid["build"],
        developer=vid["developer"],
        nonce=_b64(c["eat_nonce"]),
        appraisal_id=c[J_APPRAISAL_ID],
        evidence_digest=_b64(c[J_EVIDENCE_DIGEST]),
        device_kid=_b64(c[J_DEVICE_KID]),
        decision=decision,
        txn_hash=_b64(txn) if txn is not None else None,
        txn_salt=_b64(salt) if salt is not None else None,
    )


def _int(v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ClaimsError("expected an integer", code="ear.bad-claim")
    return v


def _b64(v: Any) -> bytes:
    try:
        return b64url_decode(v)
    except KeyFormatError:
        raise ClaimsError("expected unpadded base64url", code="ear.bad-claim") from None


# -- signing and verification -----------------------------------------------------------


def sign_ear_cwt(ear: Ear, key: Signer) -> bytes:
    return cose.sign1(cbor.encode(ear.to_cbor_claims()), key)


def verify_ear_cwt(token: bytes, keys: KeyLookup) -> Ear:
    """Signature by a key in `keys` (pinned algorithm), then the closed EAR schema."""
    msg = cose.verify_sign1(token, keys)
    return Ear.from_cbor_claims(cbor.decode(msg.payload, max_size=4096))


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


def sign_ear_jwt(ear: Ear, key: Signer) -> str:
    """Compact JWS (RFC 7515 section 7.1); ECDSA signatures are r||s (RFC 7518 section 3.4)."""
    header = {"alg": JOSE_ALG[key.alg], "kid": b64url(key.kid), "typ": "eat+jwt"}
    signing_input = b64url(_json_bytes(header)) + "." + b64url(_json_bytes(ear.to_json_claims()))
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


def verify_ear_jwt(token: str, keys: KeyLookup) -> Ear:
    """Strict JWS checks: three parts, known header members only, alg pinned to the kid."""
    if not isinstance(token, str) or len(token) > MAX_JWT_SIZE:
        raise ResultError("not a JWT, or too large", code="jwt.malformed")
    parts = token.split(".")
    if len(parts) != 3:
        raise ResultError("a compact JWS has three parts", code="jwt.malformed")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (KeyFormatError, ValueError, UnicodeDecodeError):
        raise ResultError("JWT parts are not base64url JSON", code="jwt.malformed") from None
    if not isinstance(header, dict) or set(header) != {"alg", "kid", "typ"}:
        # RFC 7515 section 4.1.11: "crit" and anything else we do not understand is refused.
        raise ResultError("JWT header must be exactly {alg, kid, typ}", code="jwt.bad-header")
    if header["typ"] != "eat+jwt":
        raise ResultError("JWT typ must be eat+jwt", code="jwt.bad-header")
    try:
        kid = b64url_decode(header["kid"])
    except KeyFormatError:
        raise ResultError("JWT kid is not base64url", code="jwt.bad-header") from None
    key = cose.lookup_key(keys, kid)
    if header["alg"] != JOSE_ALG[key.alg]:
        raise SignatureError(
            f"JWT alg {header['alg']!r} is not the one pinned for its key",
            code="cose.alg-not-pinned",
        )
    key.verify(signature, (parts[0] + "." + parts[1]).encode("ascii"))
    return Ear.from_json_claims(claims)


def decode_ear_unverified(token: bytes) -> Ear:
    """For display only (inspect): the claims of a CWT result without checking a signature."""
    msg = cose.decode_sign1(token)
    return Ear.from_cbor_claims(cbor.decode(msg.payload, max_size=4096))
