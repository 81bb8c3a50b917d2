"""Attestation results (EAR) as the verifier signs them and relying parties read them.

Implemented: draft-ietf-rats-ear-04 (26 May 2026), profile `tag:ietf.org,2026:rats/ear#04`
("EAR-04", the default), and, for relying parties on Veraison's `ear` libraries (Go, Rust
0.5), the 2023/2025 profile `tag:github.com,2023:veraison/ear` ("legacy": dotted JSON names,
one policy id string). Both are read; the verifier issues EAR-04 unless asked for legacy.

One result, two serialisations carrying the same claims (draft-ietf-rats-ear-04 section 3):
- CWT: tagged COSE_Sign1 over deterministic CBOR (RFC 9782: application/eat+cwt);
- JWT: compact JWS (RFC 7515) over JSON (RFC 9782: application/eat+jwt).
Each may also travel wrapped as a CMW record (draft-ietf-rats-msg-wrap-23): `cmw_json`,
`cmw_cbor`.

The trust in the evidence (`ear_status`, trust vector) and the face-match decision are
separate claims on purpose: a genuine device can honestly report "no match".

Extensions (section 4 of the draft): each is a map, under a name that cannot collide: CBOR
labels -65601 and -65602 (Private Use, clear of Project Veraison's -70000..-70002, which the
draft's section 4.5 gives to `ear_veraison_*`), JWT names that are URNs (collision-resistant
names, RFC 7519 section 4.2). A receiver ignores claims it does not know (section 4: "A
receiver MUST ignore any unknown claim"); evidence is different (attest.evidence keeps its
closed schema: there an unknown claim is a privacy finding).

The vocabulary (labels, names, tiers, trust vectors, `unknown_claims`) is in
attest.ear_claims and the CMW wrapping in attest.cmw; this module re-exports both, so
callers keep importing from attest.ear.

No raw evidence is echoed (`ear_raw_evidence` is never set), only its SHA-256.

A result bound to a relying party's transaction carries the transaction hash and the salt
the verifier made the nonce from (attest.commitment.transaction_nonce); a result whose
nonce is not made from them is refused on decode, so a relying party that checks the
transaction hash checks the device's signed nonce too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from attest import cbor, cose
from attest.cmw import (
    cmw_cbor,
    cmw_json,
    unwrap_cmw,
)
from attest.commitment import TXN_SALT_BYTES, nonce_binds_transaction
from attest.cose import KeyLookup, Signer
from attest.ear_claims import (
    _ID,
    _LEGACY_NAMES,
    _NAMES,
    APPRAISAL_PROFILE,
    CMW_CBOR_MEDIA,
    CMW_IND_ATTESTATION_RESULTS,
    CMW_JSON_MEDIA,
    CWT_MEDIA,
    DECISION_BY_NAME,
    DECISION_NAMES,
    EAR_PROFILE,
    J_APPRAISAL_ID,
    J_DECISION,
    J_DEVICE_KID,
    J_EVIDENCE_DIGEST,
    J_EXT_FACE,
    J_EXT_RESULT,
    J_TXN_HASH,
    J_TXN_SALT,
    JWT_MEDIA,
    L_APPRAISAL_ID,
    L_BUILD,
    L_DECISION,
    L_DEVELOPER,
    L_DEVICE_KID,
    L_EVIDENCE_DIGEST,
    L_EXP,
    L_EXT_FACE,
    L_EXT_RESULT,
    L_IAT,
    L_NONCE,
    L_POLICY_ID,
    L_PROFILE,
    L_RAW_EVIDENCE,
    L_STATUS,
    L_SUBMODS,
    L_TRUST_VECTOR,
    L_TXN_HASH,
    L_TXN_SALT,
    L_VERIFIER_ID,
    LEGACY_PROFILE,
    MAX_CWT_SIZE,
    MAX_JWT_SIZE,
    PROFILES,
    STATUS_BY_NAME,
    SUBMOD,
    TV_ALL,
    TV_LABELS,
    X_APPRAISAL_ID,
    X_DECISION,
    X_DEVICE_KID,
    X_EVIDENCE_DIGEST,
    X_NAMES,
    X_TXN_HASH,
    X_TXN_SALT,
    Status,
    TrustVector,
    _check_closed,
    unknown_claims,
)
from attest.errors import ClaimsError, KeyFormatError, ResultError, SignatureError
from attest.evidence import Decision
from attest.keys import JOSE_ALG, b64url, b64url_decode

__all__ = [
    "APPRAISAL_PROFILE",
    "CMW_CBOR_MEDIA",
    "CMW_IND_ATTESTATION_RESULTS",
    "CMW_JSON_MEDIA",
    "CWT_MEDIA",
    "DECISION_BY_NAME",
    "DECISION_NAMES",
    "EAR_PROFILE",
    "JWT_MEDIA",
    "J_APPRAISAL_ID",
    "J_DECISION",
    "J_DEVICE_KID",
    "J_EVIDENCE_DIGEST",
    "J_EXT_FACE",
    "J_EXT_RESULT",
    "J_TXN_HASH",
    "J_TXN_SALT",
    "LEGACY_PROFILE",
    "L_APPRAISAL_ID",
    "L_BUILD",
    "L_DECISION",
    "L_DEVELOPER",
    "L_DEVICE_KID",
    "L_EVIDENCE_DIGEST",
    "L_EXP",
    "L_EXT_FACE",
    "L_EXT_RESULT",
    "L_IAT",
    "L_NONCE",
    "L_POLICY_ID",
    "L_PROFILE",
    "L_RAW_EVIDENCE",
    "L_STATUS",
    "L_SUBMODS",
    "L_TRUST_VECTOR",
    "L_TXN_HASH",
    "L_TXN_SALT",
    "L_VERIFIER_ID",
    "MAX_CWT_SIZE",
    "MAX_JWT_SIZE",
    "PROFILES",
    "STATUS_BY_NAME",
    "SUBMOD",
    "TV_ALL",
    "TV_LABELS",
    "X_APPRAISAL_ID",
    "X_DECISION",
    "X_DEVICE_KID",
    "X_EVIDENCE_DIGEST",
    "X_NAMES",
    "X_TXN_HASH",
    "X_TXN_SALT",
    "Ear",
    "Status",
    "TrustVector",
    "cmw_cbor",
    "cmw_json",
    "decode_ear_unverified",
    "sign_ear_cwt",
    "sign_ear_jwt",
    "unknown_claims",
    "unwrap_cmw",
    "verify_ear_cwt",
    "verify_ear_jwt",
]


@dataclass(frozen=True)
class Ear:
    """One attestation result, as a relying party reads it.

    `profile` says which EAR version it was (or will be) serialised in; `exp` is set only
    when a received result carried one (edgeproof does not issue it: relying parties apply
    their own maximum age, attest.rp)."""

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
    profile: str = EAR_PROFILE
    exp: int | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ClaimsError("not an EAR profile token", code="ear.wrong-profile")
        if not _is_time(self.iat):
            raise ClaimsError("iat must be a time in seconds", code="ear.bad-claim")
        if self.exp is not None and not _is_time(self.exp):
            raise ClaimsError("exp must be a time in seconds", code="ear.bad-claim")
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

    @property
    def legacy(self) -> bool:
        return self.profile == LEGACY_PROFILE

    def media_type(self, kind: str) -> str:
        """RFC 9782 media type with the eat_profile parameter (draft section 5)."""
        base = CWT_MEDIA if kind == "cwt" else JWT_MEDIA
        return f'{base}; eat_profile="{self.profile}"'

    # -- CBOR ------------------------------------------------------------------------------

    def _ext_result_cbor(self) -> dict[int, Any]:
        ext: dict[int, Any] = {
            X_APPRAISAL_ID: self.appraisal_id,
            X_EVIDENCE_DIGEST: self.evidence_digest,
            X_DEVICE_KID: self.device_kid,
        }
        if self.txn_hash is not None and self.txn_salt is not None:
            ext[X_TXN_HASH] = self.txn_hash
            ext[X_TXN_SALT] = self.txn_salt
        return ext

    def to_cbor_claims(self) -> dict[int, Any]:
        """draft-ietf-rats-ear-04 section 3.3 (CBOR serialisation), or the 2023 profile."""
        sub: dict[int, Any] = {
            L_STATUS: int(self.status),
            L_TRUST_VECTOR: {TV_LABELS[n]: v for n, v in self.trust_vector.items() if v},
            L_POLICY_ID: self.policy_id if self.legacy else [self.policy_id],
        }
        if not sub[L_TRUST_VECTOR] and not self.legacy:
            del sub[L_TRUST_VECTOR]  # ar4si: the vector is non-empty<...> when present
        if self.decision is not None:
            sub[L_EXT_FACE] = {X_DECISION: int(self.decision)}
        claims: dict[int, Any] = {
            L_PROFILE: self.profile,
            L_IAT: self.iat,
            L_VERIFIER_ID: {L_DEVELOPER: self.developer, L_BUILD: self.verifier_build},
            L_SUBMODS: {SUBMOD: sub},
            L_EXT_RESULT: self._ext_result_cbor(),
        }
        if self.legacy:
            claims[L_NONCE] = self.nonce
        else:
            # Section 3.1: the appraisal's eat_nonce is the nonce of the appraised evidence,
            # for a relying party that was the challenger; section 3's overall ear_status.
            sub[L_NONCE] = self.nonce
            sub[L_PROFILE] = APPRAISAL_PROFILE
            claims[L_STATUS] = int(self.status)
        if self.exp is not None:
            claims[L_EXP] = self.exp
        return claims

    @classmethod
    def from_cbor_claims(cls, claims: Any) -> Ear:
        try:
            return _parse(claims, cbor_form=True)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ClaimsError):
                raise
            raise ClaimsError(f"malformed EAR claims: {exc}", code="ear.bad-claim") from None

    # -- JSON ------------------------------------------------------------------------------

    def to_json_claims(self) -> dict[str, Any]:
        """draft-ietf-rats-ear-04 section 3.2 (JSON serialisation), or the 2023 profile."""
        n = _LEGACY_NAMES if self.legacy else _NAMES
        tv = {name: v for name, v in self.trust_vector.items() if v}
        sub: dict[str, Any] = {n["status"]: self.status.label}
        if tv or self.legacy:
            sub[n["tv"]] = tv
        sub[n["policy"]] = self.policy_id if self.legacy else [self.policy_id]
        if self.decision is not None:
            sub[J_EXT_FACE] = {"decision": DECISION_NAMES[self.decision]}
        ext = {
            X_NAMES[k]: v if isinstance(v, str) else b64url(v)
            for k, v in self._ext_result_cbor().items()
        }
        claims: dict[str, Any] = {
            "eat_profile": self.profile,
            "iat": self.iat,
            n["verifier_id"]: {"developer": self.developer, "build": self.verifier_build},
            "submods": {SUBMOD: sub},
            J_EXT_RESULT: ext,
        }
        if self.legacy:
            claims["eat_nonce"] = b64url(self.nonce)
        else:
            sub["eat_nonce"] = b64url(self.nonce)
            sub["eat_profile"] = APPRAISAL_PROFILE
            claims["ear_status"] = self.status.label
        if self.exp is not None:
            claims["exp"] = self.exp
        return claims

    @classmethod
    def from_json_claims(cls, claims: Any) -> Ear:
        try:
            return _parse(claims, cbor_form=False)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ClaimsError):
                raise
            raise ClaimsError(f"malformed EAR claims: {exc}", code="ear.bad-claim") from None


def _is_time(v: Any) -> bool:
    # RFC 9711 section 4.3.1 / draft section 3: integer seconds, never floating point.
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**40


def _map(m: Any, what: str) -> dict[Any, Any]:
    if not isinstance(m, dict):
        raise ClaimsError(f"{what} must be a map", code="ear.bad-claim")
    return m


def _need(m: dict[Any, Any], key: Any, what: str) -> Any:
    if key not in m:
        raise ClaimsError(f"{what} lacks {key!r}", code="ear.missing-claim")
    return m[key]


def _parse(c: Any, *, cbor_form: bool) -> Ear:
    """Both profiles, both serialisations. Unknown claims are ignored at every level
    (draft-ietf-rats-ear-04 section 4); known claims must have exactly their type."""
    c = _map(c, "EAR")
    k_profile: Any = L_PROFILE if cbor_form else "eat_profile"
    profile = _need(c, k_profile, "EAR")
    if profile not in PROFILES:
        raise ClaimsError("not an EAR profile token", code="ear.wrong-profile")
    legacy = profile == LEGACY_PROFILE
    names = _LEGACY_NAMES if legacy else _NAMES

    def key(label: int, name: str) -> Any:
        return label if cbor_form else name

    def blob(v: Any, what: str) -> bytes:
        if cbor_form:
            if not isinstance(v, bytes):
                raise ClaimsError(f"{what} must be a byte string", code="ear.bad-claim")
            return v
        return _b64(v)

    iat = _need(c, key(L_IAT, "iat"), "EAR")
    exp = c.get(key(L_EXP, "exp"))
    vid = _map(_need(c, key(L_VERIFIER_ID, names["verifier_id"]), "EAR"), "ear_verifier_id")
    developer = _need(vid, key(L_DEVELOPER, "developer"), "ear_verifier_id")
    build = _need(vid, key(L_BUILD, "build"), "ear_verifier_id")
    subs = _map(_need(c, key(L_SUBMODS, "submods"), "EAR"), "submods")
    sub = _map(_need(subs, SUBMOD, "submods"), "submod")
    status = _status(_need(sub, key(L_STATUS, names["status"]), "submod"), cbor_form)
    tv_raw = sub.get(key(L_TRUST_VECTOR, names["tv"]), {})
    tv_map = _map(tv_raw, "trust vector")
    if cbor_form:
        by_label = {v: k for k, v in TV_ALL.items()}
        if set(tv_map) - set(by_label):
            raise ClaimsError("unknown trust vector claims", code="ear.bad-claim")
        tv_map = {by_label[k]: v for k, v in tv_map.items()}
    trust_vector = TrustVector.from_items(tv_map)
    policy = _need(sub, key(L_POLICY_ID, names["policy"]), "submod")
    if not legacy:
        # Section 3.1: ear_appraisal_policy_ids, a non-empty list applied in order; the
        # result names the one policy edgeproof applies.
        if not isinstance(policy, list) or len(policy) != 1:
            raise ClaimsError(
                "ear_appraisal_policy_ids must list the one policy applied", code="ear.bad-claim"
            )
        policy = policy[0]
    if legacy:
        nonce = blob(_need(c, key(L_NONCE, "eat_nonce"), "EAR"), "eat_nonce")
    else:
        nonce = blob(_need(sub, key(L_NONCE, "eat_nonce"), "submod"), "eat_nonce")
        overall = c.get(key(L_STATUS, "ear_status"))
        if overall is not None and _status(overall, cbor_form) < status:
            # Section 3: the overall status is no higher trust than the worst appraisal;
            # AR4SI tiers order trust inversely to their value.
            raise ClaimsError(
                "ear_status claims more trust than the appraisal", code="ear.bad-claim"
            )
    ext = c.get(key(L_EXT_RESULT, J_EXT_RESULT))
    face = sub.get(key(L_EXT_FACE, J_EXT_FACE))
    if ext is not None:
        ext = _map(ext, "result extension")
        xk = (lambda k: k) if cbor_form else (lambda k: X_NAMES[k])
        appraisal_id = _need(ext, xk(X_APPRAISAL_ID), "result extension")
        evidence_digest = blob(_need(ext, xk(X_EVIDENCE_DIGEST), "result extension"), "digest")
        device_kid = blob(_need(ext, xk(X_DEVICE_KID), "result extension"), "device kid")
        txn = ext.get(xk(X_TXN_HASH))
        salt = ext.get(xk(X_TXN_SALT))
    elif legacy:  # results issued before EAR-04: bare values under the old labels
        appraisal_id = _need(c, key(L_APPRAISAL_ID, J_APPRAISAL_ID), "EAR")
        evidence_digest = blob(_need(c, key(L_EVIDENCE_DIGEST, J_EVIDENCE_DIGEST), "EAR"), "d")
        device_kid = blob(_need(c, key(L_DEVICE_KID, J_DEVICE_KID), "EAR"), "device kid")
        txn = c.get(key(L_TXN_HASH, J_TXN_HASH))
        salt = c.get(key(L_TXN_SALT, J_TXN_SALT))
    else:
        raise ClaimsError(f"EAR lacks the {J_EXT_RESULT} extension", code="ear.missing-claim")
    decision: Decision | None = None
    if face is not None:
        face = _map(face, "face-match extension")
        decision = _decision(_need(face, X_DECISION if cbor_form else "decision", "face"))
    elif legacy and not isinstance(sub.get(key(L_DECISION, J_DECISION), {}), dict):
        # Results issued before EAR-04 put a bare decision here; a map under this label
        # is Project Veraison's ear.veraison.policy-claims, not ours, and is ignored.
        decision = _decision(sub[key(L_DECISION, J_DECISION)])
    return Ear(
        iat=iat,
        status=status,
        trust_vector=trust_vector,
        policy_id=policy,
        verifier_build=build,
        developer=developer,
        nonce=nonce,
        appraisal_id=appraisal_id,
        evidence_digest=evidence_digest,
        device_kid=device_kid,
        decision=decision,
        txn_hash=blob(txn, "txn_hash") if txn is not None else None,
        txn_salt=blob(salt, "txn_salt") if salt is not None else None,
        profile=profile,
        exp=exp,
    )


def _status(v: Any, cbor_form: bool) -> Status:
    if cbor_form:
        try:
            return Status(_int(v))
        except ValueError:
            raise ClaimsError(f"unknown ear_status {v!r}", code="ear.bad-claim") from None
    s = STATUS_BY_NAME.get(v) if isinstance(v, str) else None
    if s is None:
        raise ClaimsError(f"unknown ear_status {v!r}", code="ear.bad-claim")
    return s


def _decision(v: Any) -> Decision:
    if isinstance(v, str):
        d = DECISION_BY_NAME.get(v)
        if d is not None:
            return d
    elif isinstance(v, int) and not isinstance(v, bool):
        try:
            return Decision(v)
        except ValueError:
            pass
    raise ClaimsError(f"unknown decision {v!r}", code="ear.bad-claim")


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


def verify_ear_cwt(token: bytes, keys: KeyLookup, *, closed: bool = True) -> Ear:
    """Signature by a key in `keys` (pinned algorithm), then the EAR schema.

    `closed=True` (edgeproof's own parties: the device, the auditor) also refuses a claim
    outside edgeproof's profile (`ear.unknown-claim`); a relying party passes
    `closed=False` and ignores them, as draft-ietf-rats-ear-04 section 4 requires."""
    msg = cose.verify_sign1(token, keys)
    claims = cbor.decode(msg.payload, max_size=MAX_CWT_SIZE)
    ear = Ear.from_cbor_claims(claims)
    if closed:
        _check_closed(claims, cbor_form=True)
    return ear


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


def sign_ear_jwt(ear: Ear, key: Signer) -> str:
    """Compact JWS (RFC 7515 section 7.1); ECDSA signatures are r||s (RFC 7518 section 3.4)."""
    header = {"alg": JOSE_ALG[key.alg], "kid": b64url(key.kid), "typ": "eat+jwt"}
    signing_input = b64url(_json_bytes(header)) + "." + b64url(_json_bytes(ear.to_json_claims()))
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


def verify_ear_jwt(token: str, keys: KeyLookup, *, closed: bool = True) -> Ear:
    """Strict JWS checks: three parts, known header members only, alg pinned to the kid;
    `closed` as for verify_ear_cwt."""
    if not isinstance(token, str) or len(token) > MAX_JWT_SIZE:
        raise ResultError("not a JWT, or too large", code="jwt.malformed")
    parts = token.split(".")
    if len(parts) != 3:
        raise ResultError("a compact JWS has three parts", code="jwt.malformed")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (KeyFormatError, ValueError, UnicodeDecodeError, RecursionError):
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
    ear = Ear.from_json_claims(claims)
    if closed:
        _check_closed(claims, cbor_form=False)
    return ear


def decode_ear_unverified(token: bytes) -> Ear:
    """For display only (inspect): the claims of a CWT result without checking a signature."""
    msg = cose.decode_sign1(token)
    return Ear.from_cbor_claims(cbor.decode(msg.payload, max_size=MAX_CWT_SIZE))
