"""Profile v1's claims: labels, enumerations, the closed registry and the small value objects.

Why a module of its own: these are the vocabulary of the evidence, shared by the one
parse (attest.evidence), its byte layout (attest.layout) and every caller that builds
evidence on the device; none of them needs the token machinery to name a claim.

The schema is closed: every claim label is in `REGISTRY`, with a name, a meaning and the
kind of data it holds; anything else is an error on both sides. Every value is an
enumeration, a flag, a bounded count, a time, a fixed-size digest or a short machine
identifier, so no field can hold an image, a template, a fine-grained score or a personal
datum (the privacy rule of ARCHITECTURE.md). Compactness matters too: enums are small
integers, and private claims are arrays, not maps. Labels: RFC 8392 section 4 (CWT),
RFC 9711 section 4 (EAT); private labels below -65536 (RFC 8392 section 9.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

from attest.challenge import MAX_STEPS, Gesture
from attest.errors import ClaimsError

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
