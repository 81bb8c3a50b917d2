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
from itertools import combinations, product
from typing import Any, TypeVar

from attest import cbor, cose
from attest.challenge import MAX_STEPS, Gesture
from attest.cose import Signer
from attest.errors import AttestError, ClaimsError, DecodeError, PrivacyError, SignatureError
from attest.keys import ECDSA_ALGS, is_low_s

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
# -65543 is retired (it carried the relying party's transaction hash; the transaction is now
# bound through the nonce, attest.commitment.transaction_nonce): never reuse it.
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
T = TypeVar("T")

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
        ev = cls.from_claims(cbor.decode(payload, max_size=MAX_PAYLOAD))
        if ev.encode() != payload:  # RFC 8949 section 4.2.1, and one encoding per claim set
            raise _fail("non-canonical", "claims are not in the one encoding profile v1 allows")
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


# -- the fast path: one pattern for the one deterministic layout -------------------------
#
# RFC 8949 section 4.2.1 leaves exactly one encoding for each claims set: map keys in
# bytewise order, every head as short as possible. The pattern below spells that encoding
# out for profile v1, built from the same constants as the rest of this module, so it
# cannot drift from them. A payload it matches is deterministic CBOR whose values have the
# profile's types, sizes and enumerations; `_from_match` then checks the rules across
# fields (validity window, erasure, decision and band, ...) and builds the objects once.
# Anything it does not match, or any rule broken, goes to the general path, which names
# the reason. `verify_evidence` matches the whole token (COSE envelope and claims) at once.
#
# The fast path is written for few objects and little Python: it runs next to the
# signature check, whose large OpenSSL tables leave the CPU caches cold for it, so every
# extra call, temporary or object costs about twice what it does in isolation. Hence fixed
# runs of one-byte items are captured as one group and read by index, enumerations are
# looked up in tuples indexed by their one-byte encoding, and the small nested claims come
# from complete tables of their values.

_UINT = (
    rb"(?:[\x00-\x17]|\x18[\x18-\xff]|\x19[\x01-\xff].|\x1a(?:[\x01-\xff].{3}|\x00[\x01-\xff].{2})"
    rb"|\x1b(?:[\x01-\xff].{7}|\x00[\x01-\xff].{6}|\x00\x00[\x01-\xff].{5}"
    rb"|\x00\x00\x00[\x01-\xff].{4}))"
)
_BOOL = rb"[\xf4\xf5]"
_TRUE, _NULL = b"\xf5"[0], b"\xf6"[0]  # RFC 8949 section 3.3: simple values 21 and 22


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


def _p_measurement_maps() -> bytes:
    """The measurement map as the bstr it travels in: every key set the schema allows.

    Keys ascend bytewise (RFC 8949 section 4.2.1) and the release manifest (key 0) is
    required, so a map is key 0 followed by an ascending subset of the other items; the
    bstr and map heads are spelled out for each size, so they always agree with the
    entries that follow.
    """
    first, *others = MeasuredItem
    alts = []
    for n in range(len(others) + 1):
        for keys in combinations(others, n):
            size = 1 + (n + 1) * (DIGEST_SIZE + 3)
            alts.append(
                re.escape(cbor.bstr_head(size) + bytes((0xA0 + n + 1,)))
                + b"".join(
                    _p_small([k]) + re.escape(cbor.bstr_head(DIGEST_SIZE)) + b".{%d}" % DIGEST_SIZE
                    for k in (first, *keys)
                )
            )
    return b"(?:" + b"|".join(alts) + b")"


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
    + b"("
    + _p_measurement_maps()
    + b")",
    INTUSE: b"(" + _p_small(IntendedUse) + b")",
    # One group per array: decision and band; threshold id and far_exp; ...
    DECISION: b"\x82(" + _p_small(Decision) + _p_small(ScoreBand) + b")",
    THRESHOLD: b"\x82(" + _p_ident() + _p_small(range(-12, 0)) + b")",
    # ... liveness method and challenge array; liveness result and failed step (or null).
    LIVENESS: b"\x84("
    + _p_small(LivenessMethod)
    + b"(?:"
    + b"|".join(
        bytes((0x80 + n,)) + _p_small(GESTURE_BY_CODE) + b"{%d}" % n
        for n in range(1, MAX_STEPS + 1)
    )
    + b"))("
    + _p_small(o for o in Outcome if o is not Outcome.NOT_SUPPORTED)
    + b"(?:"
    + _p_small(range(MAX_STEPS))
    + rb"|\xf6))",
    DOCUMENT: b"\x84(" + _p_small(Outcome) + _p_small(AntiClone) + _p_small(Outcome) + _BOOL + b")",
    CONSENT: b"\x82(" + _BOOL + _p_small(ConsentMethod) + b")",
    ERASURE: b"\x83(" + _UINT + b")(" + _UINT + b")(" + _UINT + b")",
    RP_COMMITMENT: b"(" + _BOOL + b")",
}
_CANONICAL_LABELS = sorted(_CLAIM_PATTERNS, key=cbor.encode)  # RFC 8949 section 4.2.1
_CLAIMS = (
    b"(["
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
_FAST = re.compile(_CLAIMS, re.DOTALL)
# A whole token: the COSE_Sign1 layout of the strict profile around the claims (one match
# checks both; cose.verified_in_layout then checks the payload's length and the signature).
_TOKEN = re.compile(cose.LAYOUT_HEAD + _CLAIMS + cose.LAYOUT_TAIL, re.DOTALL)


def _by_byte(cls: type[E]) -> tuple[E | None, ...]:
    """Members of `cls` indexed by their one-byte encoding (values 0..23 encode as themselves)."""
    return tuple(cls(b) if b in _ENUM_TABLES[cls] else None for b in range(24))


# Indexed by the byte the pattern has already restricted to valid values: never None.
_DECISION_AT = _by_byte(Decision)
_BAND_AT = _by_byte(ScoreBand)
_OUTCOME_AT = _by_byte(Outcome)
_LIVENESS_METHOD_AT = _by_byte(LivenessMethod)
_DBGSTAT_AT = _by_byte(DebugStatus)
_INTUSE_AT = _by_byte(IntendedUse)
_ITEM_AT = _by_byte(MeasuredItem)


# Every value of the small nested claims, by its encoding inside the claim's array: built
# once by the constructors themselves, so they hold exactly what the constructors accept
# (None where they refuse), by the same rules. The objects are frozen value objects, shared
# as enum members are; sharing one between tokens is invisible to == and to every field
# read. These are complete tables of finite domains, filled at import, not caches.
def _every_value(cls: type[T], fields: Any) -> dict[bytes, T | None]:
    table: dict[bytes, T | None] = {}
    for values in product(*fields):
        key = bytes(cbor.encode(v)[0] for v in values)  # one-byte items (RFC 8949 section 3)
        try:
            table[key] = cls(*values)
        except ClaimsError:
            table[key] = None
    return table


_DOCUMENTS = _every_value(DocumentAuth, (Outcome, AntiClone, Outcome, (False, True)))
_CONSENTS = _every_value(Consent, ((False, True), ConsentMethod))
# Challenges of up to four steps, by their gesture codes; longer ones are two lookups.
_CHALLENGE_PART = 4
_CHALLENGES = {
    bytes(codes): tuple(GESTURE_BY_CODE[c] for c in codes)
    for n in range(1, _CHALLENGE_PART + 1)
    for codes in product(GESTURE_BY_CODE, repeat=n)
}
# A uint item read as one big-endian number still carries its head; the mask keeps the
# argument. One-byte items (0..23) are their own value (RFC 8949 section 3.1).
# Indexed by the item's length: 1, 2, 3, 5 or 9 bytes (the pattern allows no other).
_UINT_MASK = (0, 0xFF, 0xFF, 0xFFFF, 0, 0xFFFFFFFF, 0, 0, 0, 0xFFFFFFFFFFFFFFFF)
_N_REQUIRED = len(_REQUIRED)
_RELEASE_MANIFEST = MeasuredItem.RELEASE_MANIFEST
assert DIGEST_SIZE == 32 and len(MeasuredItem) == 4  # the offsets in _from_match
_FAILED = Outcome.FAILED
_MATCH, _LOW = Decision.MATCH, ScoreBand.LOW
_MAX_TIME = 2**40
_new = object.__new__


def _decode_fast(payload: bytes) -> Evidence | None:
    """Evidence from a payload in the one layout profile v1 allows, else None."""
    m = _FAST.fullmatch(payload)
    return None if m is None else _from_match(m)


def _from_match(m: re.Match[bytes]) -> Evidence | None:
    """Evidence from a match of the claims pattern (alone or inside _TOKEN), else None.

    The objects are built without their constructors (`object.__new__` and the instance
    dict): the pattern and the rules below cover every check the constructors make, and
    tests run every schema violation through both paths, check that fast-path objects pass
    the constructors unchanged, and that they carry every field.
    """
    (
        count,
        exp,
        iat,
        cti,
        nonce,
        dbg,
        swname,
        swver,
        meas,
        intuse,
        dec,
        thr,
        lv_challenge,
        lv_result,
        doc,
        con,
        captured,
        erased,
        before,
        rp,
    ) = m.groups()
    # Optional claims present must match the map's count (RFC 8949 section 3.1, major type 5).
    if count[0] - 0xA0 != _N_REQUIRED + (rp is not None):
        return None
    # The pattern fixed every type, size, identifier and enumeration; what is left are the
    # rules across fields. Any of them broken: the general path says which.
    iat_v = int.from_bytes(iat, "big") & _UINT_MASK[len(iat)]
    exp_v = int.from_bytes(exp, "big") & _UINT_MASK[len(exp)]
    # Counts and offsets are mostly below 256: one- or two-byte items, their last byte.
    captured_v = (
        captured[-1]
        if len(captured) < 3
        else int.from_bytes(captured, "big") & _UINT_MASK[len(captured)]
    )
    before_v = (
        before[-1] if len(before) < 3 else int.from_bytes(before, "big") & _UINT_MASK[len(before)]
    )
    failed_step = lv_result[1]
    decision = _DECISION_AT[dec[0]]
    band = _BAND_AT[dec[1]]
    result = _OUTCOME_AT[lv_result[0]]
    document = _DOCUMENTS[doc]  # None: the anti-clone fields disagree
    consent = _CONSENTS[con]
    if (
        document is None
        or consent is None
        or exp_v > _MAX_TIME
        or not 0 < exp_v - iat_v <= MAX_VALIDITY_S
        or before_v > iat_v
        or captured != erased  # same encoding, same count (deterministic heads)
        or captured_v > MAX_FRAMES
        or (decision is _MATCH and band is _LOW)
        or (
            failed_step != _NULL and (result is not _FAILED or failed_step >= len(lv_challenge) - 2)
        )
    ):
        return None
    # The measurement bstr: its head (2 bytes), the map head (1), then 1 to 4 entries of
    # 35 bytes: key (1), digest head 58 20 (2), digest (32). The pattern put key 0 (the
    # release manifest) first and the others ascending, so entry n starts at 3 + 35 * n.
    measurements: dict[Any, bytes] = {_RELEASE_MANIFEST: meas[6:38]}
    if len(meas) > 38:
        measurements[_ITEM_AT[meas[38]]] = meas[41:73]
        if len(meas) > 73:
            measurements[_ITEM_AT[meas[73]]] = meas[76:108]
            if len(meas) > 108:
                measurements[_ITEM_AT[meas[108]]] = meas[111:143]

    threshold = _new(Threshold)
    f = threshold.__dict__
    f["id"] = (thr[1:-1] if thr[0] < 0x78 else thr[2:-1]).decode("ascii")
    f["far_exp"] = 0x1F - thr[-1]  # 0x20..0x2b encode -1..-12 (RFC 8949 3.1, type 1)

    liveness = _new(Liveness)
    f = liveness.__dict__
    f["method"] = _LIVENESS_METHOD_AT[lv_challenge[0]]
    codes = lv_challenge[2:]
    f["challenge"] = (
        _CHALLENGES[codes]
        if len(codes) <= _CHALLENGE_PART
        else _CHALLENGES[codes[:_CHALLENGE_PART]] + _CHALLENGES[codes[_CHALLENGE_PART:]]
    )
    f["result"] = result
    f["failed_step"] = None if failed_step == _NULL else failed_step

    erasure = _new(Erasure)
    f = erasure.__dict__
    f["captured"] = f["erased"] = captured_v
    f["at"] = iat_v - before_v

    ev = _new(Evidence)
    f = ev.__dict__
    # Byte strings of 8..64 bytes: head 0x48..0x57, or 0x58 and one length byte.
    f["nonce"] = nonce[1:] if nonce[0] < 0x58 else nonce[2:]
    f["iat"] = iat_v
    f["exp"] = exp_v
    f["cti"] = cti[1:] if cti[0] < 0x58 else cti[2:]
    # Identifiers of 1..32 characters: head 0x61..0x77, or 0x78 and one length byte.
    f["swname"] = (swname[1:] if swname[0] < 0x78 else swname[2:]).decode("ascii")
    f["swversion"] = (swver[1:] if swver[0] < 0x78 else swver[2:]).decode("ascii")
    f["measurements"] = measurements
    f["decision"] = decision
    f["score_band"] = band
    f["threshold"] = threshold
    f["liveness"] = liveness
    f["document"] = document
    f["consent"] = consent
    f["erasure"] = erasure
    f["dbgstat"] = _DBGSTAT_AT[dbg[0]]
    f["intuse"] = _INTUSE_AT[intuse[0]]
    f["rp_commitment_matched"] = None if rp is None else rp == b"\xf5"  # true
    f["profile"] = PROFILE_V1
    return ev


def sign_evidence(evidence: Evidence, key: Signer) -> bytes:
    """The evidence token: tagged COSE_Sign1 over the deterministic claims."""
    return cose.sign1(evidence.encode(), key)


def peek_in_layout(token: bytes) -> tuple[bytes, Evidence] | None:
    """(kid, claims) of a token in the profile's exact layout, NOT verified; else None.

    For routing only: the verifier reads the kid, nonce and cti to load the device and
    nonce records before it appraises the token (which verifies everything again).
    """
    m = _TOKEN.fullmatch(token) if type(token) is bytes else None
    ev = None if m is None else _from_match(m)
    return None if ev is None else (token[10:42], ev)


def verify_evidence(token: bytes, keys: cose.KeyLookup) -> tuple[Evidence, cose.Sign1]:
    """Signature first (with the key pinned for the kid), then the closed schema.

    Time checks (iat, exp, clock skew) and nonce checks are appraisal policy, made by the
    verifier with its own clock; see verifier/appraisal.py.
    """
    # A token in the profile's exact layout whose claims match the pattern is checked in
    # one match, and its claims are read from that match while the token is at hand (in
    # the CPU caches): reading raises nothing and the result is only returned once the
    # signature has verified, so a bad signature is reported as such whatever the claims.
    # (A token the pattern matches is a few hundred bytes: within cose.MAX_TOKEN_SIZE.)
    m = _TOKEN.fullmatch(token) if type(token) is bytes else None
    if m is not None:
        ev = _from_match(m)
        msg = cose.verified_in_layout(token, keys)
        if msg is not None:
            _require_low_s(msg)
            return (Evidence.decode(msg.payload) if ev is None else ev), msg
    msg = cose.verify_sign1(token, keys)
    _require_low_s(msg)
    return Evidence.decode(msg.payload), msg


def _require_low_s(msg: cose.Sign1) -> None:
    """ECDSA evidence must be low-S (s <= n/2), one signature per signed content.

    (r, s) and (r, n - s) both verify: without this rule anyone holding a device's token
    could make a second valid token of the same claims, with another digest; submitted
    first, it would consume the nonce and the device's own would be refused as a replay.
    Refusing high S (rather than hashing the payload instead of the token) keeps the
    evidence digest the SHA-256 of the exact bytes the device sent, as the result, the
    log and the auditor already state it (docs/attestation.md, "Signature malleability").
    Every edgeproof signer normalises (attest.keys.SigningKey.sign, attest.keys.low_s).
    """
    if msg.protected.get(1) in ECDSA_ALGS and not is_low_s(msg.signature):
        raise SignatureError(
            "ECDSA signature has a high S (s > n/2); profile v1 accepts the low-S form only",
            code="cose.high-s",
        )
