"""Evidence profile v1: the claims a device signs about one verification, and the one parse.

A CWT (RFC 8392) carrying EAT claims (RFC 9711), signed as COSE_Sign1 (RFC 9052 section
4.2, strict profile in attest.cose). The vocabulary (labels, enumerations, the closed
registry, the small value objects) is in attest.claims and re-exported here; the one byte
layout the profile allows, as a compiled pattern, is in attest.layout.

Why one parse: the verifier needs a token's kid, nonce and cti to load its records, then
checks the structure, the device, the algorithm, the signature and the claims. `parse`
reads the token once into an `EvidenceToken` that carries all of them; `verify` then
checks only the signature. Draft implemented: profile v1 (docs/attestation.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

from attest import cbor, cose, layout
from attest.claims import (
    _REQUIRED,
    CONSENT,
    CONTENT_FORMAT_CBOR,
    CTI,
    CTI_MAX,
    CTI_MIN,
    DBGSTAT,
    DECISION,
    DIGEST_SIZE,
    DOCUMENT,
    EAT_NONCE,
    EAT_PROFILE,
    ERASURE,
    EXP,
    GESTURE_BY_CODE,
    GESTURE_CODES,
    IAT,
    INTUSE,
    LIVENESS,
    MAX_FRAMES,
    MAX_PAYLOAD,
    MAX_VALIDITY_S,
    MEASUREMENTS,
    NONCE_MAX,
    NONCE_MIN,
    PROFILE_V1,
    REGISTRY,
    REGISTRY_BY_LABEL,
    RP_COMMITMENT,
    SWNAME,
    SWVERSION,
    THRESHOLD,
    AntiClone,
    ClaimSpec,
    Consent,
    ConsentMethod,
    DebugStatus,
    Decision,
    DocumentAuth,
    Erasure,
    IntendedUse,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
    _array,
    _bool,
    _bytes,
    _enum,
    _fail,
    _ident,
    _int,
    _typed,
)
from attest.cose import Signer
from attest.errors import AttestError, DecodeError, PrivacyError, SignatureError
from attest.keys import ECDSA_ALGS, is_low_s

__all__ = [
    "CONSENT",
    "CONTENT_FORMAT_CBOR",
    "CTI",
    "CTI_MAX",
    "CTI_MIN",
    "DBGSTAT",
    "DECISION",
    "DIGEST_SIZE",
    "DOCUMENT",
    "EAT_NONCE",
    "EAT_PROFILE",
    "ERASURE",
    "EXP",
    "GESTURE_BY_CODE",
    "GESTURE_CODES",
    "IAT",
    "INTUSE",
    "LIVENESS",
    "MAX_FRAMES",
    "MAX_PAYLOAD",
    "MAX_VALIDITY_S",
    "MEASUREMENTS",
    "NONCE_MAX",
    "NONCE_MIN",
    "PROFILE_V1",
    "REGISTRY",
    "REGISTRY_BY_LABEL",
    "RP_COMMITMENT",
    "SWNAME",
    "SWVERSION",
    "THRESHOLD",
    "AntiClone",
    "ClaimSpec",
    "Consent",
    "ConsentMethod",
    "DebugStatus",
    "Decision",
    "DocumentAuth",
    "Erasure",
    "Evidence",
    "EvidenceToken",
    "IntendedUse",
    "Liveness",
    "LivenessMethod",
    "MeasuredItem",
    "Outcome",
    "ScoreBand",
    "Threshold",
    "parse",
    "peek_in_layout",
    "sign_evidence",
    "verify_evidence",
]


@dataclass(frozen=True)
class Evidence:
    """The typed claims of one verification; construction enforces the whole schema."""

    nonce: bytes
    iat: int
    exp: int
    cti: bytes
    swname: str
    swversion: str
    measurements: Mapping[MeasuredItem, bytes]
    decision: Decision
    score_band: ScoreBand
    threshold: Threshold
    liveness: Liveness
    document: DocumentAuth
    consent: Consent
    erasure: Erasure
    dbgstat: DebugStatus = DebugStatus.DISABLED
    intuse: IntendedUse = IntendedUse.GENERIC
    rp_commitment_matched: bool | None = None
    profile: str = field(default=PROFILE_V1)

    def __post_init__(self) -> None:
        for attr, cls in _EVIDENCE_ENUMS:
            if type(getattr(self, attr)) is not cls:
                _typed(self, attr, cls)
        if (
            type(self.threshold) is not Threshold
            or type(self.liveness) is not Liveness
            or type(self.document) is not DocumentAuth
            or type(self.consent) is not Consent
            or type(self.erasure) is not Erasure
        ):
            raise _fail(
                "bad-value",
                "threshold, liveness, document, consent and erasure must be "
                "Threshold, Liveness, DocumentAuth, Consent and Erasure objects",
            )
        _bytes(self.nonce, "eat_nonce", NONCE_MIN, NONCE_MAX)
        _int(self.iat, "iat", 0, 2**40)
        _int(self.exp, "exp", 0, 2**40)
        if not 0 < self.exp - self.iat <= MAX_VALIDITY_S:
            raise _fail(
                "bad-validity", f"exp must be after iat and at most {MAX_VALIDITY_S} s later"
            )
        _bytes(self.cti, "cti", CTI_MIN, CTI_MAX)
        if self.profile != PROFILE_V1:
            raise _fail("wrong-profile", f"eat_profile must be {PROFILE_V1!r}")
        _ident(self.swname, "swname")
        _ident(self.swversion, "swversion")
        if MeasuredItem.RELEASE_MANIFEST not in self.measurements:
            raise _fail("bad-value", "measurements must include the release manifest digest")
        for item, digest in self.measurements.items():
            if type(item) is not MeasuredItem:
                raise _fail("bad-value", "measurement keys are MeasuredItem values")
            if type(digest) is not bytes or len(digest) != DIGEST_SIZE:
                raise _fail("bad-value", f"measurement {item.name} must be a 32-byte SHA-256")
        if self.rp_commitment_matched is not None:
            _bool(self.rp_commitment_matched, "rp_commitment")
        if self.decision is Decision.MATCH and self.score_band is ScoreBand.LOW:
            raise _fail("bad-value", "a match cannot have a low score band")
        if self.erasure.at > self.iat:
            # Erasure happens before signing (ARCHITECTURE.md, steps 5 and 6); the wire
            # carries it as seconds before iat.
            raise _fail("bad-value", "erasure must happen before the token is signed (at <= iat)")
        # Erasure is the promise itself: a device that could not erase must not attest.
        if not self.erasure.complete:
            raise PrivacyError(
                f"{self.erasure.captured} frames captured but {self.erasure.erased} erased",
                code="claims.erasure-incomplete",
            )

    # -- encoding ------------------------------------------------------------------------

    def to_claims(self) -> dict[int, Any]:
        lv = self.liveness
        doc = self.document
        claims: dict[int, Any] = {
            EAT_NONCE: self.nonce,
            IAT: self.iat,
            EXP: self.exp,
            CTI: self.cti,
            EAT_PROFILE: self.profile,
            SWNAME: self.swname,
            SWVERSION: [self.swversion],
            MEASUREMENTS: [
                [
                    CONTENT_FORMAT_CBOR,
                    cbor.encode({int(k): v for k, v in self.measurements.items()}),
                ]
            ],
            DBGSTAT: int(self.dbgstat),
            INTUSE: int(self.intuse),
            DECISION: [int(self.decision), int(self.score_band)],
            THRESHOLD: [self.threshold.id, self.threshold.far_exp],
            LIVENESS: [
                int(lv.method),
                [GESTURE_CODES[g] for g in lv.challenge],
                int(lv.result),
                lv.failed_step,
            ],
            DOCUMENT: [
                int(doc.passive),
                int(doc.anticlone_method),
                int(doc.anticlone),
                doc.expired,
            ],
            CONSENT: [self.consent.recorded, int(self.consent.method)],
            ERASURE: [self.erasure.captured, self.erasure.erased, self.iat - self.erasure.at],
        }
        if self.rp_commitment_matched is not None:
            claims[RP_COMMITMENT] = self.rp_commitment_matched
        return claims

    def encode(self) -> bytes:
        return cbor.encode(self.to_claims())

    @classmethod
    def from_claims(cls, claims: Any) -> Evidence:
        """Strict parse of a decoded claims map (closed schema)."""
        if not isinstance(claims, dict):
            raise _fail("not-a-map", "the CWT claims set must be a map")
        unknown = [k for k in claims if k not in REGISTRY_BY_LABEL]
        if unknown:
            raise PrivacyError(
                f"claims outside the profile v1 registry: {unknown}; the schema is closed",
                code="claims.unknown-claim",
            )
        missing = sorted(_REQUIRED - set(claims))
        if missing:
            names = [REGISTRY_BY_LABEL[m].name for m in missing]
            raise _fail("missing-claim", f"required claims missing: {', '.join(names)}")
        if claims[EAT_PROFILE] != PROFILE_V1:
            raise _fail("wrong-profile", f"eat_profile must be {PROFILE_V1!r}")
        sv = claims[SWVERSION]
        if not isinstance(sv, list) or len(sv) != 1:
            raise _fail("bad-value", "swversion must be [version]")
        meas = _array(claims[MEASUREMENTS], "measurements", 1)
        entry = _array(meas[0], "measurements entry", 2)
        if (
            type(entry[0]) is not int
            or entry[0] != CONTENT_FORMAT_CBOR
            or type(entry[1]) is not bytes
        ):
            raise _fail("bad-value", "measurements entry must be [60, bstr .cbor map]")
        try:
            mmap = cbor.decode(entry[1], max_size=1024)
        except DecodeError as exc:
            raise _fail("bad-value", f"measurement map: {exc.message}") from None
        if not isinstance(mmap, dict) or not mmap:
            raise _fail("bad-value", "measurement map must be a non-empty map")
        measurements = {_enum(MeasuredItem, k, "measured item"): v for k, v in mmap.items()}
        dec = _array(claims[DECISION], "decision", 2)
        thr = _array(claims[THRESHOLD], "threshold", 2)
        lv = _array(claims[LIVENESS], "liveness", 4)
        if type(lv[1]) is not list or not lv[1]:
            raise _fail("bad-value", "liveness challenge must be a non-empty array")
        gestures = []
        for code in lv[1]:
            if type(code) is not int or code not in GESTURE_BY_CODE:
                raise _fail("bad-value", f"unknown gesture code {code!r}")
            gestures.append(GESTURE_BY_CODE[code])
        doc = _array(claims[DOCUMENT], "document", 4)
        con = _array(claims[CONSENT], "consent", 2)
        era = _array(claims[ERASURE], "erasure", 3)
        failed_step = lv[3]
        if failed_step is not None:
            failed_step = _int(failed_step, "liveness failed_step", 0, 7)
        rp = claims.get(RP_COMMITMENT)
        if RP_COMMITMENT in claims:
            # Optional means absent or a bool: `null` would be a second encoding of "no
            # commitment" with another digest (the CDDL says `? -65544 => bool`).
            rp = _bool(rp, "rp_commitment")
        ev = cls(
            nonce=claims[EAT_NONCE],
            iat=claims[IAT],
            exp=claims[EXP],
            cti=claims[CTI],
            swname=claims[SWNAME],
            swversion=sv[0],
            measurements=measurements,
            decision=_enum(Decision, dec[0], "decision"),
            score_band=_enum(ScoreBand, dec[1], "score band"),
            threshold=Threshold(thr[0], thr[1]),
            liveness=Liveness(
                _enum(LivenessMethod, lv[0], "liveness method"),
                tuple(gestures),
                _enum(Outcome, lv[2], "liveness result"),
                failed_step,
            ),
            document=DocumentAuth(
                _enum(Outcome, doc[0], "passive authentication"),
                _enum(AntiClone, doc[1], "anti-clone method"),
                _enum(Outcome, doc[2], "anti-clone result"),
                _bool(doc[3], "document expired"),
            ),
            consent=Consent(
                _bool(con[0], "consent recorded"), _enum(ConsentMethod, con[1], "consent method")
            ),
            erasure=Erasure(era[0], era[1], _erased_at(claims[IAT], era[2])),
            dbgstat=_enum(DebugStatus, claims[DBGSTAT], "dbgstat"),
            intuse=_enum(IntendedUse, claims[INTUSE], "intuse"),
            rp_commitment_matched=rp,
            profile=claims[EAT_PROFILE],
        )
        if ev.to_claims() != claims:
            # Exactly closed: one claims map per Evidence. Any value the typed model would
            # write differently (a wider form the checks above let through) is refused.
            raise _fail("non-canonical", "claims are not in the one encoding profile v1 allows")
        return ev

    @classmethod
    def decode(cls, payload: bytes) -> Evidence:
        """Strict decoding of a claims payload: deterministic CBOR, then the closed schema.

        The payload in the one byte layout profile v1 allows is read by one pattern match
        (attest.layout); anything else, or anything failing a rule across fields, by the
        general path (cbor.decode + from_claims), which gives the precise reason. Both
        give the same answer (tests/attest/test_trusted.py).
        """
        if type(payload) is bytes and len(payload) <= MAX_PAYLOAD:
            m = layout.CLAIMS.fullmatch(payload)
            fast = None if m is None else layout.build(m, cls)
            if fast is not None:
                return fast
        ev, err, _ = _decode_general(payload)
        if ev is None:
            assert err is not None
            raise err
        return ev


_EVIDENCE_ENUMS: tuple[tuple[str, type[IntEnum]], ...] = (
    ("decision", Decision),
    ("score_band", ScoreBand),
    ("dbgstat", DebugStatus),
    ("intuse", IntendedUse),
)


def _erased_at(iat: Any, before: Any) -> int:
    """The erasure time from its wire form, seconds before iat."""
    return _int(iat, "iat", 0, 2**40) - _int(before, "erasure offset", 0, 2**40)


def _decode_general(payload: Any) -> tuple[Evidence | None, AttestError | None, Any]:
    """(evidence, None, claims) or (None, the coded reason, claims or None): the general path.

    Strict CBOR (RFC 8949 section 4.2.1), then the closed schema, then one encoding per
    claims set. The decoded claims map is returned too, so a caller routing a token whose
    claims are refused need not decode it again.
    """
    try:
        claims = cbor.decode(payload, max_size=MAX_PAYLOAD)
    except AttestError as exc:
        return None, exc, None
    try:
        ev = Evidence.from_claims(claims)
        if ev.encode() != payload:  # RFC 8949 section 4.2.1, and one encoding per claim set
            raise _fail("non-canonical", "claims are not in the one encoding profile v1 allows")
    except AttestError as exc:
        return None, exc, claims
    return ev, None, claims


class EvidenceToken(NamedTuple):
    """An evidence token read once: envelope and claims checked, the signature NOT yet.

    `evidence` is None exactly when the claims are refused; `claims_error` then says why,
    and is raised by `verify` only after the signature verified (a claims error is only
    ever reported for a token its device signed). `nonce` and `cti` are for routing (the
    verifier's hot read): the claims' own when they are valid, else whatever byte strings
    of plausible size the claims map holds under those labels, never trusted. `tbs` is the
    Sig_structure the signature covers (RFC 9052 section 4.4). A named tuple: it is built
    once per token on the verifier's hot path and has no rule of its own to check.
    """

    token: bytes
    sign1: cose.Sign1
    evidence: Evidence | None
    claims_error: AttestError | None
    nonce: bytes | None
    cti: bytes | None
    tbs: bytes

    @property
    def alg(self) -> int:
        alg: int = self.sign1.protected[cose.HDR_ALG]
        return alg

    @property
    def kid(self) -> bytes:
        kid: bytes = self.sign1.protected[cose.HDR_KID]
        return kid

    def verify(self, keys: cose.KeyLookup) -> Evidence:
        """Signature (key pinned for the kid, RFC 9052 section 4.4), low S, then the claims."""
        _check_signature(self.sign1, self.tbs, keys)
        if self.evidence is None:
            assert self.claims_error is not None
            raise self.claims_error
        return self.evidence


def parse(token: bytes) -> EvidenceToken:
    """The one parse of an evidence token; raises the envelope's coded error.

    A token in the profile's exact layout whose claims the pattern accepts is read by one
    match (attest.layout.TOKEN); any other by the strict envelope decoder
    (cose.strict_sign1) and the general claims path, once each. Envelope errors (RFC 9052,
    the strict header profile) are raised here; claims errors are kept for `verify`.
    """
    fast = _parse_in_layout(token)
    if fast is not None:
        msg, ev, tbs = fast
        return EvidenceToken(token, msg, ev, None, ev.nonce, ev.cti, tbs)
    return _parse_general(token)


# Bound once: the hot path looks them up per token otherwise.
_match_token, _build, _in_layout = layout.TOKEN.fullmatch, layout.build, cose.in_layout


def _parse_in_layout(token: bytes) -> tuple[cose.Sign1, Evidence, bytes] | None:
    """(envelope, claims, Sig_structure) of a token the one-layout pattern reads, else None."""
    m = _match_token(token) if type(token) is bytes else None
    if m is None:
        return None
    ev = _build(m, Evidence)
    if ev is None:
        return None
    envelope = _in_layout(token)
    if envelope is None:
        return None
    return envelope[0], ev, envelope[1]


def _parse_general(token: bytes) -> EvidenceToken:
    """The parse of any other token: strict envelope, then the general claims path."""
    msg = cose.strict_sign1(token)
    ev, err, claims = _decode_general(msg.payload)
    if ev is not None:
        return EvidenceToken(token, msg, ev, None, ev.nonce, ev.cti, msg.to_be_signed())
    nonce = cti = None
    if isinstance(claims, dict):
        n, c = claims.get(EAT_NONCE), claims.get(CTI)
        nonce = n if type(n) is bytes and len(n) <= NONCE_MAX else None
        cti = c if type(c) is bytes and len(c) <= CTI_MAX else None
    return EvidenceToken(token, msg, None, err, nonce, cti, msg.to_be_signed())


def _check_signature(msg: cose.Sign1, tbs: bytes, keys: cose.KeyLookup) -> None:
    """The signature by the key pinned for the kid (RFC 9052 section 4.4), in low-S form."""
    p = msg.protected
    alg = p[cose.HDR_ALG]
    cose.check_signature(keys, alg, p[cose.HDR_KID], msg.signature, tbs)
    _require_low_s(alg, msg.signature)


def sign_evidence(evidence: Evidence, key: Signer) -> bytes:
    """The evidence token: tagged COSE_Sign1 over the deterministic claims."""
    return cose.sign1(evidence.encode(), key)


def peek_in_layout(token: bytes) -> tuple[bytes, Evidence] | None:
    """(kid, claims) of a token the one parse accepts, NOT verified; else None.

    Kept for callers of the earlier API; the verifier uses `parse` directly.
    """
    try:
        t = parse(token)
    except AttestError:
        return None
    return None if t.evidence is None else (t.kid, t.evidence)


def verify_evidence(token: bytes, keys: cose.KeyLookup) -> tuple[Evidence, cose.Sign1]:
    """Envelope, then the signature (with the key pinned for the kid), then the closed schema.

    Time checks (iat, exp, clock skew) and nonce checks are appraisal policy, made by the
    verifier with its own clock; see verifier/appraisal.py.
    """
    fast = _parse_in_layout(token)  # the parse, without the routing fields it would add
    if fast is not None:
        msg, ev, tbs = fast
        _check_signature(msg, tbs, keys)
        return ev, msg
    t = _parse_general(token)
    return t.verify(keys), t.sign1


def _require_low_s(alg: int, signature: bytes) -> None:
    """ECDSA evidence must be low-S (s <= n/2), one signature per signed content.

    (r, s) and (r, n - s) both verify: without this rule anyone holding a device's token
    could make a second valid token of the same claims, with another digest; submitted
    first, it would consume the nonce and the device's own would be refused as a replay.
    Refusing high S (rather than hashing the payload instead of the token) keeps the
    evidence digest the SHA-256 of the exact bytes the device sent, as the result, the
    log and the auditor already state it (docs/attestation.md, "Signature malleability").
    Every edgeproof signer normalises (attest.keys.SigningKey.sign, attest.keys.low_s).
    """
    if alg in ECDSA_ALGS and not is_low_s(signature):
        raise SignatureError(
            "ECDSA signature has a high S (s > n/2); profile v1 accepts the low-S form only",
            code="cose.high-s",
        )
