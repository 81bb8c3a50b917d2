"""Evidence profile v1: the claims a device signs about one verification.

A CWT (RFC 8392) carrying EAT claims (RFC 9711), signed as COSE_Sign1 (see cose.py).

The schema is closed: every claim label is in `REGISTRY`, with a name, a meaning and the
kind of data it holds; anything else is an error on both sides. Every value is an
enumeration, a flag, a bounded count, a time, a fixed-size digest or a short
machine identifier, so no field can hold an image, a template, a fine-grained score or a
personal datum (the privacy rule of ARCHITECTURE.md). Compactness matters too: enums are
small integers, and private claims are arrays, not maps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from attest import cbor, cose
from attest.challenge import Gesture
from attest.errors import ClaimsError, DecodeError, PrivacyError
from attest.keys import SigningKey

PROFILE_V1 = "urn:edgeproof:v1"
MAX_VALIDITY_S = 300  # exp - iat, ARCHITECTURE.md
NONCE_MIN, NONCE_MAX = 16, 64
CTI_MIN, CTI_MAX = 8, 32
DIGEST_SIZE = 32  # SHA-256
MAX_PAYLOAD = 4096
CONTENT_FORMAT_CBOR = 60  # CoAP Content-Format for application/cbor (RFC 7252 section 12.3)
MAX_FRAMES = 1_000_000

# -- labels -----------------------------------------------------------------------------
# Standard (IANA CWT Claims registry; RFC 8392, RFC 9711 section 4).
EXP, IAT, CTI, EAT_NONCE = 4, 6, 7, 10
DBGSTAT, EAT_PROFILE, SWNAME, SWVERSION, MEASUREMENTS, INTUSE = 263, 265, 270, 271, 273, 275
# Private use (IANA: integer labels less than -65536 are Private Use).
DECISION = -65537
THRESHOLD = -65538
LIVENESS = -65539
DOCUMENT = -65540
CONSENT = -65541
ERASURE = -65542
TXN_HASH = -65543
RP_COMMITMENT = -65544


class Decision(IntEnum):
    """Face match outcome at the calibrated threshold."""

    MATCH = 1
    NO_MATCH = 2
    INCONCLUSIVE = 3


class ScoreBand(IntEnum):
    """Coarse similarity band: the finest score that may leave the device."""

    LOW = 0  # well below the threshold
    NEAR = 1  # within the uncertainty band around it
    HIGH = 2  # well above it


class Outcome(IntEnum):
    """Result of one check on the device."""

    PASSED = 1
    FAILED = 2
    NOT_SUPPORTED = 3  # the document or device cannot perform the check: never "passed"
    INCONCLUSIVE = 4


class AntiClone(IntEnum):
    """How the chip proved it is not a clone (ICAO 9303-11 sections 6.1, 6.2)."""

    NONE = 0
    CHIP_AUTHENTICATION = 1
    ACTIVE_AUTHENTICATION = 2
    PACE_CAM = 3


class LivenessMethod(IntEnum):
    """How the liveness challenge was chosen."""

    ACTIVE_NONCE = 1  # derived from the verifier's nonce: production
    ACTIVE_FIXED_DEMO = 2  # fixed sequence under an explicit demo policy; production rejects it


class ConsentMethod(IntEnum):
    OPERATOR_CONFIRMED = 1
    SELF_SERVICE = 2


class DebugStatus(IntEnum):
    """RFC 9711 section 4.2.9."""

    ENABLED = 0
    DISABLED = 1
    DISABLED_SINCE_BOOT = 2
    DISABLED_PERMANENTLY = 3
    DISABLED_FULLY_AND_PERMANENTLY = 4


class IntendedUse(IntEnum):
    """RFC 9711 section 4.3.3."""

    GENERIC = 1
    REGISTRATION = 2
    PROVISIONING = 3
    CSR = 4
    PROOF_OF_POSSESSION = 5


class MeasuredItem(IntEnum):
    """Keys of the measurement map: what each digest covers."""

    RELEASE_MANIFEST = 0
    DETECTOR_MODEL = 1
    LANDMARK_MODEL = 2
    EMBEDDING_MODEL = 3


GESTURE_CODES: dict[Gesture, int] = {
    Gesture.BLINK: 1,
    Gesture.TURN_LEFT: 2,
    Gesture.TURN_RIGHT: 3,
    Gesture.SMILE: 4,
}
GESTURE_BY_CODE = {v: k for k, v in GESTURE_CODES.items()}


@dataclass(frozen=True)
class ClaimSpec:
    """One entry of the closed claim registry."""

    label: int
    name: str
    meaning: str
    data_kind: str  # what kind of data this is, for auditors
    required: bool = True


REGISTRY: tuple[ClaimSpec, ...] = (
    ClaimSpec(
        EAT_NONCE,
        "eat_nonce",
        "the verifier's challenge nonce: proves freshness",
        "random bytes from the verifier",
    ),
    ClaimSpec(IAT, "iat", "when the device signed the token (seconds since 1970)", "time"),
    ClaimSpec(
        EXP,
        "exp",
        "after this time the token must be refused (at most 5 minutes after iat)",
        "time",
    ),
    ClaimSpec(
        CTI,
        "cti",
        "unique token id: lets the verifier refuse a second use",
        "random bytes from the device",
    ),
    ClaimSpec(
        EAT_PROFILE, "eat_profile", "which profile (this document) the token follows", "identifier"
    ),
    ClaimSpec(SWNAME, "swname", "name of the device software", "identifier"),
    ClaimSpec(SWVERSION, "swversion", "version of the device software", "identifier"),
    ClaimSpec(
        MEASUREMENTS,
        "measurements",
        "SHA-256 of the release manifest and of each model used",
        "software digests",
    ),
    ClaimSpec(DBGSTAT, "dbgstat", "whether debugging was possible on the device", "device state"),
    ClaimSpec(INTUSE, "intuse", "intended use of this token", "enumeration"),
    ClaimSpec(
        DECISION,
        "decision",
        "face match decision and coarse score band (low / near / high)",
        "outcome",
    ),
    ClaimSpec(
        THRESHOLD,
        "threshold",
        "calibration used: threshold id and its false-accept rate (10^x)",
        "identifier",
    ),
    ClaimSpec(
        LIVENESS, "liveness", "liveness method, challenge gestures, result, failing step", "outcome"
    ),
    ClaimSpec(
        DOCUMENT,
        "document",
        "passive auth, anti-clone method and result, document expired",
        "outcome",
    ),
    ClaimSpec(CONSENT, "consent", "whether the person's consent was recorded, and how", "outcome"),
    ClaimSpec(
        ERASURE,
        "erasure",
        "frames captured, frames erased, when they were erased",
        "counts and time",
    ),
    ClaimSpec(
        TXN_HASH,
        "txn_hash",
        "relying party's transaction hash, echoed",
        "digest chosen by the relying party",
        required=False,
    ),
    ClaimSpec(
        RP_COMMITMENT,
        "rp_commitment",
        "whether the document matched the relying party's salted commitment",
        "outcome",
        required=False,
    ),
)
REGISTRY_BY_LABEL = {c.label: c for c in REGISTRY}
_REQUIRED = frozenset(c.label for c in REGISTRY if c.required)

_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,31}")


def _fail(code: str, message: str) -> ClaimsError:
    return ClaimsError(message, code=f"claims.{code}")


def _int(v: Any, name: str, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _fail("bad-value", f"{name} must be an integer in {lo}..{hi}")
    return v


def _bytes(v: Any, name: str, lo: int, hi: int) -> bytes:
    if not isinstance(v, bytes) or not lo <= len(v) <= hi:
        size = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise _fail("bad-value", f"{name} must be a byte string of {size} bytes")
    return v


def _ident(v: Any, name: str) -> str:
    if not isinstance(v, str) or not _IDENT.fullmatch(v):
        raise _fail("bad-value", f"{name} must be a short identifier ([A-Za-z0-9._+-], <= 32)")
    return v


E = TypeVar("E", bound=IntEnum)


def _enum(cls: type[E], v: Any, name: str) -> E:
    if not isinstance(v, int) or isinstance(v, bool):
        raise _fail("bad-value", f"{name} must be one of {[int(m) for m in cls]}")
    try:
        return cls(v)
    except ValueError:
        raise _fail("bad-value", f"{name} must be one of {[int(m) for m in cls]}") from None


def _bool(v: Any, name: str) -> bool:
    if not isinstance(v, bool):
        raise _fail("bad-value", f"{name} must be true or false")
    return v


def _array(v: Any, name: str, n: int) -> list[Any]:
    if not isinstance(v, list) or len(v) != n:
        raise _fail("bad-value", f"{name} must be an array of {n} items")
    return v


@dataclass(frozen=True)
class Threshold:
    id: str
    far_exp: int  # false-accept rate is 10 ** far_exp

    def __post_init__(self) -> None:
        _ident(self.id, "threshold id")
        _int(self.far_exp, "threshold far_exp", -12, -1)


@dataclass(frozen=True)
class Liveness:
    method: LivenessMethod
    challenge: tuple[Gesture, ...]
    result: Outcome
    failed_step: int | None = None  # index into challenge when result is FAILED

    def __post_init__(self) -> None:
        if not 1 <= len(self.challenge) <= 8 or not all(
            isinstance(g, Gesture) for g in self.challenge
        ):
            raise _fail("bad-value", "liveness challenge must hold 1 to 8 gestures")
        if self.result is Outcome.NOT_SUPPORTED:
            raise _fail("bad-value", "liveness cannot be 'not supported'")
        if self.failed_step is not None:
            _int(self.failed_step, "liveness failed_step", 0, len(self.challenge) - 1)
            if self.result is not Outcome.FAILED:
                raise _fail("bad-value", "failed_step is only given when liveness failed")


@dataclass(frozen=True)
class DocumentAuth:
    passive: Outcome
    anticlone_method: AntiClone
    anticlone: Outcome
    expired: bool

    def __post_init__(self) -> None:
        if (self.anticlone_method is AntiClone.NONE) != (self.anticlone is Outcome.NOT_SUPPORTED):
            raise _fail(
                "bad-value", "anti-clone result is 'not supported' exactly when no method ran"
            )

    @property
    def authenticated(self) -> bool:
        """Genuine and not cloned, as far as the chip allows (ICAO 9303-11 sections 5 and 6)."""
        return self.passive is Outcome.PASSED and self.anticlone in (
            Outcome.PASSED,
            Outcome.NOT_SUPPORTED,
        )


@dataclass(frozen=True)
class Consent:
    recorded: bool
    method: ConsentMethod


@dataclass(frozen=True)
class Erasure:
    captured: int
    erased: int
    at: int

    def __post_init__(self) -> None:
        _int(self.captured, "erasure captured", 0, MAX_FRAMES)
        _int(self.erased, "erasure erased", 0, MAX_FRAMES)
        _int(self.at, "erasure at", 0, 2**40)

    @property
    def complete(self) -> bool:
        return self.erased == self.captured


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
    txn_hash: bytes | None = None
    rp_commitment_matched: bool | None = None
    profile: str = field(default=PROFILE_V1)

    def __post_init__(self) -> None:
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
            if not isinstance(item, MeasuredItem):
                raise _fail("bad-value", "measurement keys are MeasuredItem values")
            _bytes(digest, f"measurement {item.name}", DIGEST_SIZE, DIGEST_SIZE)
        if self.txn_hash is not None:
            _bytes(self.txn_hash, "txn_hash", DIGEST_SIZE, DIGEST_SIZE)
        if self.rp_commitment_matched is not None:
            _bool(self.rp_commitment_matched, "rp_commitment")
        if self.decision is Decision.MATCH and self.score_band is ScoreBand.LOW:
            raise _fail("bad-value", "a match cannot have a low score band")
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
            ERASURE: [self.erasure.captured, self.erasure.erased, self.erasure.at],
        }
        if self.txn_hash is not None:
            claims[TXN_HASH] = self.txn_hash
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
        if entry[0] != CONTENT_FORMAT_CBOR or not isinstance(entry[1], bytes):
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
        if not isinstance(lv[1], list) or not lv[1]:
            raise _fail("bad-value", "liveness challenge must be a non-empty array")
        gestures = []
        for code in lv[1]:
            if isinstance(code, bool) or code not in GESTURE_BY_CODE:
                raise _fail("bad-value", f"unknown gesture code {code!r}")
            gestures.append(GESTURE_BY_CODE[code])
        doc = _array(claims[DOCUMENT], "document", 4)
        con = _array(claims[CONSENT], "consent", 2)
        era = _array(claims[ERASURE], "erasure", 3)
        failed_step = lv[3]
        if failed_step is not None:
            failed_step = _int(failed_step, "liveness failed_step", 0, 7)
        return cls(
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
            erasure=Erasure(era[0], era[1], era[2]),
            dbgstat=_enum(DebugStatus, claims[DBGSTAT], "dbgstat"),
            intuse=_enum(IntendedUse, claims[INTUSE], "intuse"),
            txn_hash=claims.get(TXN_HASH),
            rp_commitment_matched=claims.get(RP_COMMITMENT),
            profile=claims[EAT_PROFILE],
        )

    @classmethod
    def decode(cls, payload: bytes) -> Evidence:
        return cls.from_claims(cbor.decode(payload, max_size=MAX_PAYLOAD))


def sign_evidence(evidence: Evidence, key: SigningKey) -> bytes:
    """The evidence token: tagged COSE_Sign1 over the deterministic claims."""
    return cose.sign1(evidence.encode(), key)


def verify_evidence(token: bytes, keys: cose.KeyLookup) -> tuple[Evidence, cose.Sign1]:
    """Signature first (with the key pinned for the kid), then the closed schema.

    Time checks (iat, exp, clock skew) and nonce checks are appraisal policy, made by the
    verifier with its own clock; see verifier/appraisal.py.
    """
    msg = cose.verify_sign1(token, keys)
    return Evidence.decode(msg.payload), msg
