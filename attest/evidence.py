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
from attest.challenge import MAX_STEPS, Gesture
from attest.cose import Signer
from attest.errors import AttestError, ClaimsError, DecodeError, PrivacyError

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
    # `type(v) is int`: neither bool nor float (60.0 == 60 in Python, not on the wire).
    if type(v) is not int or not lo <= v <= hi:
        raise _fail("bad-value", f"{name} must be an integer in {lo}..{hi}")
    return v


def _bytes(v: Any, name: str, lo: int, hi: int) -> bytes:
    if type(v) is not bytes or not lo <= len(v) <= hi:
        size = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise _fail("bad-value", f"{name} must be a byte string of {size} bytes")
    return v


def _ident(v: Any, name: str) -> str:
    if type(v) is not str or not _IDENT.fullmatch(v):
        raise _fail("bad-value", f"{name} must be a short identifier ([A-Za-z0-9._+-], <= 32)")
    return v


E = TypeVar("E", bound=IntEnum)

# Every enumeration of the profile, by wire value (immutable lookup tables).
_ENUM_TABLES: dict[type[IntEnum], dict[int, IntEnum]] = {
    cls: {int(m): m for m in cls}
    for cls in (
        Decision,
        ScoreBand,
        Outcome,
        AntiClone,
        LivenessMethod,
        ConsentMethod,
        DebugStatus,
        IntendedUse,
        MeasuredItem,
    )
}


def _enum(cls: type[E], v: Any, name: str) -> E:
    if type(v) is cls:
        return v
    if type(v) is int:
        m = _ENUM_TABLES[cls].get(v)
        if m is not None:
            return m  # type: ignore[return-value]
    raise _fail("bad-value", f"{name} must be one of {[int(m) for m in cls]}")


def _typed(obj: Any, attr: str, cls: type[IntEnum]) -> None:
    """Hold `attr` as a member of `cls`: plain wire integers are converted, others refused."""
    v = getattr(obj, attr)
    if type(v) is not cls:
        object.__setattr__(obj, attr, _enum(cls, v, attr))


def _bool(v: Any, name: str) -> bool:
    if type(v) is not bool:
        raise _fail("bad-value", f"{name} must be true or false")
    return v


def _array(v: Any, name: str, n: int) -> list[Any]:
    if type(v) is not list or len(v) != n:
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
        if type(self.method) is not LivenessMethod:
            _typed(self, "method", LivenessMethod)
        if type(self.result) is not Outcome:
            _typed(self, "result", Outcome)
        if type(self.challenge) is not tuple:
            object.__setattr__(self, "challenge", tuple(self.challenge))
        if not 1 <= len(self.challenge) <= MAX_STEPS or {*map(type, self.challenge)} != {Gesture}:
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
        if type(self.passive) is not Outcome:
            _typed(self, "passive", Outcome)
        if type(self.anticlone_method) is not AntiClone:
            _typed(self, "anticlone_method", AntiClone)
        if type(self.anticlone) is not Outcome:
            _typed(self, "anticlone", Outcome)
        _bool(self.expired, "document expired")
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

    def __post_init__(self) -> None:
        _bool(self.recorded, "consent recorded")
        if type(self.method) is not ConsentMethod:
            _typed(self, "method", ConsentMethod)


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
        if self.txn_hash is not None:
            _bytes(self.txn_hash, "txn_hash", DIGEST_SIZE, DIGEST_SIZE)
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
            erasure=Erasure(era[0], era[1], _erased_at(claims[IAT], era[2])),
            dbgstat=_enum(DebugStatus, claims[DBGSTAT], "dbgstat"),
            intuse=_enum(IntendedUse, claims[INTUSE], "intuse"),
            txn_hash=claims.get(TXN_HASH),
            rp_commitment_matched=claims.get(RP_COMMITMENT),
            profile=claims[EAT_PROFILE],
        )

    @classmethod
    def decode(cls, payload: bytes) -> Evidence:
        """Strict decoding of a claims payload: deterministic CBOR, then the closed schema.

        Two paths, one answer. `_decode_fast` matches the payload against the one byte
        layout profile v1 allows (a compiled pattern, see `_FAST`) and builds the objects
        straight from it; whatever it does not match, or whatever fails there, is decoded
        again by the general path (cbor.decode + from_claims), which gives the precise
        reason. Tests check that both paths agree on valid, random and mutated payloads.
        """
        if type(payload) is bytes and len(payload) <= MAX_PAYLOAD:
            try:
                fast = _decode_fast(payload)
            except AttestError:
                fast = None
            if fast is not None:
                return fast
        return cls.from_claims(cbor.decode(payload, max_size=MAX_PAYLOAD))


_EVIDENCE_ENUMS: tuple[tuple[str, type[IntEnum]], ...] = (
    ("decision", Decision),
    ("score_band", ScoreBand),
    ("dbgstat", DebugStatus),
    ("intuse", IntendedUse),
)


def _erased_at(iat: Any, before: Any) -> int:
    """The erasure time from its wire form, seconds before iat."""
    return _int(iat, "iat", 0, 2**40) - _int(before, "erasure offset", 0, 2**40)


# -- the fast path: one pattern for the one deterministic layout -------------------------
#
# RFC 8949 section 4.2.1 leaves exactly one encoding for each claims set: map keys in
# bytewise order, every head as short as possible. The pattern below spells that encoding
# out for profile v1, built from the same constants as the rest of this module, so it
# cannot drift from them. A payload it matches is deterministic CBOR whose values have the
# profile's types, sizes and enumerations; `_decode_fast` then checks the rules across
# fields (validity window, erasure, decision and band, ...) and builds the objects once.
# Anything it does not match, or any rule broken, goes to the general path, which names
# the reason.

_UINT = (
    rb"(?:[\x00-\x17]|\x18[\x18-\xff]|\x19[\x01-\xff].|\x1a(?:[\x01-\xff].{3}|\x00[\x01-\xff].{2})"
    rb"|\x1b(?:[\x01-\xff].{7}|\x00[\x01-\xff].{6}|\x00\x00[\x01-\xff].{5}"
    rb"|\x00\x00\x00[\x01-\xff].{4}))"
)
_BOOL = rb"[\xf4\xf5]"


def _p_bstr(lo: int, hi: int) -> bytes:
    return (
        b"(?:"
        + b"|".join(re.escape(cbor.bstr_head(n)) + b".{%d}" % n for n in range(lo, hi + 1))
        + b")"
    )


def _p_ident() -> bytes:
    first, rest = rb"[A-Za-z0-9]", rb"[A-Za-z0-9._+\-]"
    alts = [
        re.escape(cbor.encode("x" * n)[:-n]) + first + rest + b"{%d}" % (n - 1)
        for n in range(1, 33)
    ]
    return b"(?:" + b"|".join(alts) + b")"


def _p_small(values: Any) -> bytes:
    """One-byte items: unsigned (or, for negatives, negative) integers below 24."""
    return b"[" + b"".join(re.escape(cbor.encode(int(v))) for v in values) + b"]"


def _p_label(label: int) -> bytes:
    return re.escape(cbor.encode(label))


_GESTURE = _p_small(GESTURE_BY_CODE)
_MEAS_ENTRY = (
    _p_small(MeasuredItem) + re.escape(cbor.bstr_head(DIGEST_SIZE)) + b".{%d}" % DIGEST_SIZE
)
_CLAIM_PATTERNS: dict[int, bytes] = {
    EXP: b"(" + _UINT + b")",
    IAT: b"(" + _UINT + b")",
    CTI: b"(" + _p_bstr(CTI_MIN, CTI_MAX) + b")",
    EAT_NONCE: b"(" + _p_bstr(NONCE_MIN, NONCE_MAX) + b")",
    DBGSTAT: b"(" + _p_small(DebugStatus) + b")",
    EAT_PROFILE: re.escape(cbor.encode(PROFILE_V1)),
    SWNAME: b"(" + _p_ident() + b")",
    SWVERSION: b"\x81(" + _p_ident() + b")",
    MEASUREMENTS: re.escape(cbor.encode([[CONTENT_FORMAT_CBOR, b""]])[:-1])
    + b"(?:"
    + b"|".join(
        re.escape(cbor.bstr_head(1 + k * (DIGEST_SIZE + 3)) + bytes((0xA0 + k,)))
        + b"((?:"
        + _MEAS_ENTRY
        + b"){%d})" % k
        for k in range(1, len(MeasuredItem) + 1)
    )
    + b")",
    INTUSE: b"(" + _p_small(IntendedUse) + b")",
    DECISION: b"\x82(" + _p_small(Decision) + b")(" + _p_small(ScoreBand) + b")",
    THRESHOLD: b"\x82(" + _p_ident() + b")(" + _p_small(range(-12, 0)) + b")",
    LIVENESS: b"\x84("
    + _p_small(LivenessMethod)
    + b")((?:"
    + b"|".join(bytes((0x80 + n,)) + _GESTURE + b"{%d}" % n for n in range(1, MAX_STEPS + 1))
    + b"))("
    + _p_small(o for o in Outcome if o is not Outcome.NOT_SUPPORTED)
    + b")("
    + _p_small(range(MAX_STEPS))
    + rb"|\xf6)",
    DOCUMENT: b"\x84("
    + _p_small(Outcome)
    + b")("
    + _p_small(AntiClone)
    + b")("
    + _p_small(Outcome)
    + b")("
    + _BOOL
    + b")",
    CONSENT: b"\x82(" + _BOOL + b")(" + _p_small(ConsentMethod) + b")",
    ERASURE: b"\x83(" + _UINT + b")(" + _UINT + b")(" + _UINT + b")",
    TXN_HASH: b"(" + re.escape(cbor.bstr_head(DIGEST_SIZE)) + b".{%d})" % DIGEST_SIZE,
    RP_COMMITMENT: b"(" + _BOOL + b")",
}
_CANONICAL_LABELS = sorted(_CLAIM_PATTERNS, key=cbor.encode)  # RFC 8949 section 4.2.1
_FAST = re.compile(
    b"(?s)(["
    + b"".join(re.escape(bytes((0xA0 + n,))) for n in range(len(_REQUIRED), len(REGISTRY) + 1))
    + b"])"
    + b"".join(
        (b"" if label in _REQUIRED else b"(?:")
        + _p_label(label)
        + _CLAIM_PATTERNS[label]
        + (b"" if label in _REQUIRED else b")?")
        for label in _CANONICAL_LABELS
    )
)


_DECISIONS = _ENUM_TABLES[Decision]
_BANDS = _ENUM_TABLES[ScoreBand]
_OUTCOMES = _ENUM_TABLES[Outcome]
_ANTICLONES = _ENUM_TABLES[AntiClone]
_LIVENESS_METHODS = _ENUM_TABLES[LivenessMethod]
_CONSENT_METHODS = _ENUM_TABLES[ConsentMethod]
_DBGSTATS = _ENUM_TABLES[DebugStatus]
_INTUSES = _ENUM_TABLES[IntendedUse]
_ITEMS = _ENUM_TABLES[MeasuredItem]
_N_ITEMS = len(MeasuredItem)
_N_REQUIRED = len(_REQUIRED)
T = TypeVar("T")


_MAX_TIME = 2**40


def _raw(cls: type[T], **fields: Any) -> T:
    """A frozen dataclass from fields the fast path has already checked in full.

    The one place where the constructors' checks are not run again: the pattern and the
    rules in `_decode_fast` cover each of them (tests run every schema violation through
    both paths, and check that fast-path objects pass `__post_init__` unchanged). The
    caller passes every field; tests check that no attribute is missing.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _uint(item: bytes) -> int:
    return item[0] if item[0] < 24 else int.from_bytes(item[1:], "big")


def _small(item: bytes) -> int:
    """The value of a one-byte integer item (RFC 8949 section 3.1, major types 0 and 1)."""
    b = item[0]
    return b if b < 0x20 else -1 - (b - 0x20)


def _content(item: bytes) -> bytes:
    """The content of a byte or text string item whose head is one or two bytes long."""
    return item[1:] if item[0] & 0x1F < 24 else item[2:]


def _decode_fast(payload: bytes) -> Evidence | None:
    m = _FAST.fullmatch(payload)
    if m is None:
        return None
    (count, exp, iat, cti, nonce, dbg, swname, swver, *rest) = m.groups()
    meas_groups = rest[:_N_ITEMS]
    (
        intuse,
        dec,
        band,
        thr_id,
        far,
        lv_m,
        lv_ch,
        lv_r,
        lv_f,
        d_p,
        d_m,
        d_a,
        d_x,
        c_r,
        c_m,
        e_c,
        e_e,
        e_b,
        txn,
        rp,
    ) = rest[_N_ITEMS:]
    # Optional claims present must match the map's count (RFC 8949 section 3.1, major type 5).
    if count[0] - 0xA0 != _N_REQUIRED + (txn is not None) + (rp is not None):
        return None
    entries = next(x for x in meas_groups if x is not None)
    measurements: dict[MeasuredItem, bytes] = {}
    prev = -1
    for i in range(0, len(entries), DIGEST_SIZE + 3):
        k = entries[i]
        if k <= prev:  # keys ascending and distinct (RFC 8949 section 4.2.1)
            return None
        prev = k
        measurements[_ITEMS[k]] = entries[i + 3 : i + 3 + DIGEST_SIZE]  # type: ignore[index]
    if MeasuredItem.RELEASE_MANIFEST not in measurements:
        return None
    # The pattern fixed every type, size, identifier and enumeration; what is left are the
    # rules across fields. Any of them broken: the general path says which.
    iat_v, exp_v = _uint(iat), _uint(exp)
    captured, erased, before = _uint(e_c), _uint(e_e), _uint(e_b)
    challenge = tuple(map(GESTURE_BY_CODE.__getitem__, lv_ch[1:]))
    result = _OUTCOMES[lv_r[0]]
    failed_step = None if lv_f == b"\xf6" else lv_f[0]
    decision, band = _DECISIONS[dec[0]], _BANDS[band[0]]
    anticlone_method, anticlone = _ANTICLONES[d_m[0]], _OUTCOMES[d_a[0]]
    if (
        exp_v > _MAX_TIME
        or not 0 < exp_v - iat_v <= MAX_VALIDITY_S
        or not 0 <= before <= iat_v
        or captured != erased
        or captured > MAX_FRAMES
        or (decision is Decision.MATCH and band is ScoreBand.LOW)
        or (
            failed_step is not None
            and (result is not Outcome.FAILED or failed_step >= len(challenge))
        )
        or (anticlone_method is AntiClone.NONE) != (anticlone is Outcome.NOT_SUPPORTED)
    ):
        return None
    return _raw(
        Evidence,
        nonce=_content(nonce),
        iat=iat_v,
        exp=exp_v,
        cti=_content(cti),
        swname=_content(swname).decode("ascii"),
        swversion=_content(swver).decode("ascii"),
        measurements=measurements,
        decision=decision,
        score_band=band,
        threshold=_raw(Threshold, id=_content(thr_id).decode("ascii"), far_exp=_small(far)),
        liveness=_raw(
            Liveness,
            method=_LIVENESS_METHODS[lv_m[0]],
            challenge=challenge,
            result=result,
            failed_step=failed_step,
        ),
        document=_raw(
            DocumentAuth,
            passive=_OUTCOMES[d_p[0]],
            anticlone_method=anticlone_method,
            anticlone=anticlone,
            expired=d_x == b"\xf5",
        ),
        consent=_raw(Consent, recorded=c_r == b"\xf5", method=_CONSENT_METHODS[c_m[0]]),
        erasure=_raw(Erasure, captured=captured, erased=erased, at=iat_v - before),
        dbgstat=_DBGSTATS[dbg[0]],
        intuse=_INTUSES[intuse[0]],
        txn_hash=None if txn is None else txn[2:],
        rp_commitment_matched=None if rp is None else rp == b"\xf5",
        profile=PROFILE_V1,
    )


def sign_evidence(evidence: Evidence, key: Signer) -> bytes:
    """The evidence token: tagged COSE_Sign1 over the deterministic claims."""
    return cose.sign1(evidence.encode(), key)


def verify_evidence(token: bytes, keys: cose.KeyLookup) -> tuple[Evidence, cose.Sign1]:
    """Signature first (with the key pinned for the kid), then the closed schema.

    Time checks (iat, exp, clock skew) and nonce checks are appraisal policy, made by the
    verifier with its own clock; see verifier/appraisal.py.
    """
    msg = cose.verify_sign1(token, keys)
    return Evidence.decode(msg.payload), msg
