"""EAR vocabulary: profiles, media types, claim labels and names, trust tiers and vectors.

Why a module of its own: the result's vocabulary (draft-ietf-rats-ear-04 section 9.1,
draft-ietf-rats-ar4si section 2.3, RFC 9782 media types) is shared by the result model and
its two serialisations (attest.ear), the CMW wrapping (attest.cmw) and the auditor's
closed-profile check (`unknown_claims`), none of which needs the others to name a claim.
attest.ear re-exports every name here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from attest.errors import ClaimsError
from attest.evidence import Decision

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
