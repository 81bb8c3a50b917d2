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

No raw evidence is echoed (`ear_raw_evidence` is never set), only its SHA-256.

A result bound to a relying party's transaction carries the transaction hash and the salt
the verifier made the nonce from (attest.commitment.transaction_nonce); a result whose
nonce is not made from them is refused on decode, so a relying party that checks the
transaction hash checks the device's signed nonce too.
"""

from __future__ import annotations

import base64
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

EAR_PROFILE = "tag:ietf.org,2026:rats/ear#04"  # draft-ietf-rats-ear-04 section 3
LEGACY_PROFILE = "tag:github.com,2023:veraison/ear"  # Veraison's libraries, draft-fv-rats-ear
PROFILES = (EAR_PROFILE, LEGACY_PROFILE)
APPRAISAL_PROFILE = "urn:edgeproof:v1"  # the profile of our appraisal extension (docs)
SUBMOD = "edgeproof-device"
MAX_JWT_SIZE = 8 * 1024
MAX_CWT_SIZE = 4096

# RFC 9782 media types; the eat_profile parameter names the EAR version.
CWT_MEDIA = "application/eat+cwt"
JWT_MEDIA = "application/eat+jwt"
CMW_JSON_MEDIA = "application/cmw+json"  # draft-ietf-rats-msg-wrap-23 section 10.5
CMW_CBOR_MEDIA = "application/cmw+cbor"
CMW_IND_ATTESTATION_RESULTS = 1 << 3  # section 3.1.1: cm-type attestation-results is bit 3

# CBOR labels: CWT/EAT claims (RFC 8392, RFC 9711 section 4) and EAR's 1000-range
# (draft-ietf-rats-ear-04 section 9.1, unchanged from the 2023 profile).
L_EXP, L_IAT, L_NONCE, L_PROFILE, L_SUBMODS = 4, 6, 10, 265, 266
L_STATUS, L_TRUST_VECTOR, L_POLICY_ID, L_VERIFIER_ID = 1000, 1001, 1003, 1004
L_RAW_EVIDENCE = 1002
L_DEVELOPER, L_BUILD = 0, 1
# Trustworthiness vector claims (draft-ietf-rats-ar4si section 2.3 CBOR keys; the eight
# categories are read, the four edgeproof appraises are modelled).
TV_LABELS = {"instance-identity": 0, "executables": 2, "hardware": 4, "sourced-data": 7}
TV_ALL = {
    "instance-identity": 0,
    "configuration": 1,
    "executables": 2,
    "file-system": 3,
    "hardware": 4,
    "runtime-opaque": 5,
    "storage-opaque": 6,
    "sourced-data": 7,
}

# EAR-04 extensions, each a map (draft-ietf-rats-ear-04 section 3: "An EAR extension MUST be
# a map"). Private Use labels (< -65536, section 4.1) clear of every registered or published
# EAR extension (Veraison: -70000, -70001, -70002).
L_EXT_RESULT = -65601  # top level: which appraisal, which evidence, which transaction
L_EXT_FACE = -65602  # in the appraisal: the face-match outcome
J_EXT_RESULT = "urn:edgeproof:ear:result"  # RFC 7519 section 4.2 collision-resistant names
J_EXT_FACE = "urn:edgeproof:ear:face-match"
# Members of the result extension: (CBOR key, JSON name).
X_APPRAISAL_ID, X_EVIDENCE_DIGEST, X_DEVICE_KID, X_TXN_HASH, X_TXN_SALT = 0, 1, 2, 3, 4
X_DECISION = 0
X_NAMES = {
    X_APPRAISAL_ID: "appraisal_id",
    X_EVIDENCE_DIGEST: "evidence_digest",
    X_DEVICE_KID: "device_kid",
    X_TXN_HASH: "txn_hash",
    X_TXN_SALT: "txn_salt",
}

# The 2023 profile (LEGACY_PROFILE) as edgeproof issued it before EAR-04: bare values under
# private labels. Read and, on request, issued, so that Veraison-based parties keep working.
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
        """The AR4SI vector is a closed map (ar4si section 2.3): a name outside its eight
        categories is an error; the four categories edgeproof does not appraise are read
        for their range and otherwise ignored."""
        unknown = set(items) - set(TV_ALL)
        if unknown:
            raise ClaimsError(
                f"unknown trust vector claims {sorted(unknown)}", code="ear.bad-claim"
            )
        for name, v in items.items():
            if not isinstance(v, int) or isinstance(v, bool) or not -128 <= v <= 127:
                raise ClaimsError(f"trust vector {name} must be -128..127", code="ear.bad-claim")
        return cls(*(items.get(n, 0) for n in TV_LABELS))


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


# JSON claim names per profile: draft-ietf-rats-ear-04 section 9.1 (underscores) and the
# 2023 profile (dots and dashes).
_NAMES = {
    "status": "ear_status",
    "tv": "ear_trustworthiness_vector",
    "policy": "ear_appraisal_policy_ids",
    "verifier_id": "ear_verifier_id",
}
_LEGACY_NAMES = {
    "status": "ear.status",
    "tv": "ear.trustworthiness-vector",
    "policy": "ear.appraisal-policy-id",
    "verifier_id": "ear.verifier-id",
}


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


def unknown_claims(c: Any, *, cbor_form: bool = True) -> list[str]:
    """Claims of a result outside edgeproof's own profile, at every level, as text.

    A receiver ignores these (draft-ietf-rats-ear-04 section 4); an auditor checking what
    the verifier published against the privacy promise (docs/privacy.md) does not: for it
    each one is a finding (`closed=True` in verify_ear_cwt / verify_ear_jwt)."""
    if not isinstance(c, dict):
        return []
    legacy = c.get(L_PROFILE if cbor_form else "eat_profile") == LEGACY_PROFILE
    names = _LEGACY_NAMES if legacy else _NAMES
    k_vid: Any
    k_sub: Any
    k_ext: Any
    k_face: Any
    k_tv: Any
    if cbor_form:
        top: set[Any] = {L_PROFILE, L_IAT, L_EXP, L_VERIFIER_ID, L_SUBMODS, L_EXT_RESULT}
        top |= {L_NONCE} if legacy else {L_STATUS}
        if legacy:
            top |= {L_APPRAISAL_ID, L_EVIDENCE_DIGEST, L_DEVICE_KID, L_TXN_HASH, L_TXN_SALT}
        sub_keys: set[Any] = {L_STATUS, L_TRUST_VECTOR, L_POLICY_ID, L_EXT_FACE}
        sub_keys |= {L_DECISION} if legacy else {L_NONCE, L_PROFILE}
        vid_keys: set[Any] = {L_DEVELOPER, L_BUILD}
        ext_keys: set[Any] = set(X_NAMES)
        face_keys: set[Any] = {X_DECISION}
        tv_keys: set[Any] = set(TV_LABELS.values())
        k_vid, k_sub, k_ext, k_face, k_tv = (
            L_VERIFIER_ID,
            L_SUBMODS,
            L_EXT_RESULT,
            L_EXT_FACE,
            L_TRUST_VECTOR,
        )
    else:
        top = {"eat_profile", "iat", "exp", names["verifier_id"], "submods", J_EXT_RESULT}
        top |= {"eat_nonce"} if legacy else {"ear_status"}
        if legacy:
            top |= {J_APPRAISAL_ID, J_EVIDENCE_DIGEST, J_DEVICE_KID, J_TXN_HASH, J_TXN_SALT}
        sub_keys = {names["status"], names["tv"], names["policy"], J_EXT_FACE}
        sub_keys |= {J_DECISION} if legacy else {"eat_nonce", "eat_profile"}
        vid_keys, ext_keys = {"developer", "build"}, set(X_NAMES.values())
        face_keys, tv_keys = {"decision"}, set(TV_LABELS)
        k_vid, k_sub, k_ext, k_face, k_tv = (
            names["verifier_id"],
            "submods",
            J_EXT_RESULT,
            J_EXT_FACE,
            names["tv"],
        )
    out = [str(k) for k in c if k not in top]

    def inner(m: Any, allowed: set[Any], where: str) -> None:
        if isinstance(m, dict):
            out.extend(f"{where}/{k}" for k in m if k not in allowed)

    inner(c.get(k_vid), vid_keys, str(k_vid))
    inner(c.get(k_ext), ext_keys, str(k_ext))
    subs = c.get(k_sub)
    inner(subs, {SUBMOD}, str(k_sub))
    sub = subs.get(SUBMOD) if isinstance(subs, dict) else None
    inner(sub, sub_keys, SUBMOD)
    if isinstance(sub, dict):
        inner(sub.get(k_face), face_keys, f"{SUBMOD}/{k_face}")
        inner(sub.get(k_tv), tv_keys, f"{SUBMOD}/{k_tv}")
    return out


def _check_closed(c: Any, *, cbor_form: bool) -> None:
    extra = unknown_claims(c, cbor_form=cbor_form)
    if extra:
        raise ClaimsError(
            f"result has claims outside edgeproof's EAR profile: {extra}",
            code="ear.unknown-claim",
        )


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


# -- CMW (draft-ietf-rats-msg-wrap-23 section 3.1, Record CMW) ---------------------------


def cmw_json(jwt: str, profile: str = EAR_PROFILE) -> list[Any]:
    """A JSON record CMW: [media type, base64url value, ind]. The value is base64url even
    though a JWT is text (section 3.1: "This always applies"); `ind` says "attestation
    results" (section 3.1.1), since application/eat+jwt alone does not."""
    value = base64.urlsafe_b64encode(jwt.encode("ascii")).rstrip(b"=").decode("ascii")
    return [f'{JWT_MEDIA}; eat_profile="{profile}"', value, CMW_IND_ATTESTATION_RESULTS]


def cmw_cbor(cwt: bytes, profile: str = EAR_PROFILE) -> bytes:
    """A CBOR record CMW: [media type, bstr value, ind], deterministic CBOR."""
    return cbor.encode([f'{CWT_MEDIA}; eat_profile="{profile}"', cwt, CMW_IND_ATTESTATION_RESULTS])


def unwrap_cmw(data: bytes | str | list[Any]) -> bytes | str:
    """The EAR token inside a record CMW (JSON text, a parsed JSON array, or CBOR bytes).

    Only records whose type is an EAT media type of an EAR profile are unwrapped: anything
    else is not an attestation result of ours (`cmw.unsupported`)."""
    rec: Any
    if isinstance(data, list):
        rec = data
    elif isinstance(data, str) or (isinstance(data, bytes) and data[:1] == b"["):
        try:
            rec = json.loads(data)
        except (ValueError, RecursionError):
            raise ResultError("CMW is not JSON", code="cmw.malformed") from None
    else:
        rec = cbor.decode(bytes(data), max_size=MAX_JWT_SIZE + 64)
    if not isinstance(rec, list) or len(rec) not in (2, 3) or not isinstance(rec[0], str):
        raise ResultError("a record CMW is [type, value, ?ind]", code="cmw.malformed")
    if len(rec) == 3 and (
        not isinstance(rec[2], int)
        or isinstance(rec[2], bool)
        or not 0 < rec[2] < 2**32
        or not rec[2] & CMW_IND_ATTESTATION_RESULTS
    ):
        raise ResultError("CMW ind does not say attestation results", code="cmw.unsupported")
    mtype, _, params = rec[0].partition(";")
    mtype = mtype.strip().lower()
    profile = _eat_profile_param(params)
    if profile is not None and profile not in {p.lower() for p in PROFILES}:
        raise ResultError(f"CMW carries eat_profile {profile!r}", code="cmw.unsupported")
    if mtype == JWT_MEDIA and isinstance(rec[1], str):
        return _b64_cmw(rec[1]).decode("ascii", "replace")
    if mtype == CWT_MEDIA and isinstance(rec[1], bytes):
        return rec[1]
    if mtype == CWT_MEDIA and isinstance(rec[1], str):
        return _b64_cmw(rec[1])
    raise ResultError(f"CMW type {mtype!r} is not an EAT result", code="cmw.unsupported")


def _eat_profile_param(params: str) -> str | None:
    """RFC 9782: the optional eat_profile parameter, case-insensitive."""
    for p in params.split(";"):
        name, _, value = p.strip().partition("=")
        if name.strip().lower() == "eat_profile":
            return value.strip().strip('"').lower()
    return None


def _b64_cmw(v: str) -> bytes:
    try:
        return b64url_decode(v)
    except KeyFormatError:
        raise ResultError("CMW value is not base64url", code="cmw.malformed") from None
