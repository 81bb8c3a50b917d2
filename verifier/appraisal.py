"""Appraisal: a pure function from evidence and the verifier's records to every check.

No I/O, no clock, no database: the API loads the device, nonce and reference records,
passes `now`, and commits the outcome. Every check is reported with its outcome (like
keylime's failure events), not just the first failure, so an operator sees all that is
wrong at once. Checks that depend on trusting the claims (anything after `claims`) are
skipped when the identity chain (structure, device, algorithm, signature, claims) fails:
unverified claims are never appraised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from attest.challenge import Gesture
from attest.commitment import nonce_binds_transaction
from attest.ear import Status, TrustVector
from attest.errors import AttestError, SignatureError
from attest.evidence import (
    DebugStatus,
    Evidence,
    EvidenceToken,
    LivenessMethod,
    MeasuredItem,
    parse,
)
from attest.evidence import Outcome as DeviceOutcome
from attest.keys import PublicKey
from verifier.policy import CHECK_COMPONENT, REFUSING_CHECKS, Outcome, Policy, trust_from


@dataclass(frozen=True)
class DeviceRecord:
    kid: bytes
    key: PublicKey
    device_id: str
    revoked_at: int | None = None
    not_after: int | None = None  # end of the overlap window after a key rotation


@dataclass(frozen=True)
class NonceRecord:
    nonce: bytes
    issued_at: int
    expires_at: int
    consumed: bool
    liveness_method: LivenessMethod
    challenge: tuple[Gesture, ...]
    txn_hash: bytes | None = None
    txn_salt: bytes | None = None
    commitment: bytes | None = None


@dataclass(frozen=True)
class ReferenceValues:
    """Release manifest digest -> the model digests that release ships."""

    releases: Mapping[bytes, frozenset[bytes]]


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    code: str | None = None  # reason code (verifier.errors.REASONS) when failed
    detail: str = ""

    def to_json(self) -> dict[str, str | None]:
        return {
            "check": self.name,
            "component": CHECK_COMPONENT[self.name].value,
            "outcome": self.outcome.value,
            "code": self.code,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Result:
    checks: tuple[Check, ...]
    evidence: Evidence | None
    evidence_digest: bytes
    status: Status
    trust_vector: TrustVector

    @property
    def accepted(self) -> bool:
        return self.evidence is not None and not any(
            c.outcome is Outcome.FAILED for c in self.checks
        )

    @property
    def refused(self) -> bool:
        """No result at all: a failed check in policy.REFUSING_CHECKS, or nothing decoded."""
        return self.evidence is None or any(
            c.outcome is Outcome.FAILED and c.name in REFUSING_CHECKS for c in self.checks
        )

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome is Outcome.FAILED]


@dataclass(frozen=True)
class Peek:
    """What the API needs to load records, read from an unverified token (never trusted)."""

    kid: bytes | None
    nonce: bytes | None
    cti: bytes | None


@dataclass(frozen=True)
class Submission:
    """A submitted token read once (attest.evidence.parse), or why its envelope is malformed.

    The API peeks at it to load the records, then appraises the same object: the token is
    decoded once per submission.
    """

    token: bytes
    parsed: EvidenceToken | None
    malformed: AttestError | None

    @property
    def peek(self) -> Peek:
        t = self.parsed
        return Peek(None, None, None) if t is None else Peek(t.kid, t.nonce, t.cti)


def read(token: bytes) -> Submission:
    """The one parse of a submitted token; never raises."""
    try:
        return Submission(token, parse(token), None)
    except AttestError as exc:
        return Submission(token, None, exc)


def peek(token: bytes | Submission) -> Peek:
    """What the API needs to load records; never raises, never trusted."""
    return (token if isinstance(token, Submission) else read(token)).peek


ORDER = tuple(CHECK_COMPONENT)


class _Checks:
    def __init__(self) -> None:
        self.done: dict[str, Check] = {}

    def ok(self, name: str, detail: str = "") -> None:
        self.done[name] = Check(name, Outcome.PASSED, None, detail)

    def warn(self, name: str, detail: str) -> None:
        self.done[name] = Check(name, Outcome.WARNING, None, detail)

    def fail(self, name: str, code: str, detail: str) -> None:
        self.done[name] = Check(name, Outcome.FAILED, code, detail)

    def skip(self, name: str, detail: str = "") -> None:
        self.done[name] = Check(name, Outcome.SKIPPED, None, detail)

    def result(self, evidence: Evidence | None, digest: bytes) -> Result:
        checks = tuple(
            self.done.get(n, Check(n, Outcome.SKIPPED, None, "not evaluated")) for n in ORDER
        )
        status, tv = trust_from([(c.name, c.outcome) for c in checks])
        return Result(checks, evidence, digest, status, tv)


def _identity(
    sub: Submission, device: DeviceRecord | None, now: int, c: _Checks
) -> Evidence | None:
    """Structure, enrolment, pinned algorithm, signature, claims: the chain of trust."""
    t = sub.parsed
    if t is None:
        # RFC 9052 section 4.2 and the strict header profile (attest.cose).
        exc = sub.malformed
        assert exc is not None
        c.fail("structure", "evidence.malformed", f"{exc.code}: {exc.message}")
        return None
    c.ok("structure")
    alg, kid = t.alg, t.kid
    if device is None or device.kid != kid:
        c.fail("device-enrolled", "device.unknown", f"no device enrolled with kid {kid.hex()}")
        return None
    c.ok("device-enrolled", device.device_id)
    if device.revoked_at is not None:
        c.fail("device-active", "device.revoked", f"revoked at {device.revoked_at}")
        return None
    if device.not_after is not None and now > device.not_after:
        c.fail("device-active", "device.key-retired", f"key retired at {device.not_after}")
        return None
    c.ok("device-active")
    # RFC 9052 section 3.1: alg is taken from the protected header only; we pin it per kid.
    if not device.key.accepts_alg(alg):  # -8 pins also take -19 (attest.keys, RFC 9864)
        c.fail("algorithm-pinned", "evidence.alg-not-pinned", f"token alg {alg}")
        return None
    c.ok("algorithm-pinned")
    try:
        # The signature first, then the closed schema of profile v1 (RFC 9711): a claims
        # error is only ever raised for a token whose signature verified.
        evidence = t.verify({device.kid: device.key})
    except SignatureError as exc:
        c.fail("signature", "evidence.bad-signature", exc.message)
        return None
    except AttestError as exc:
        c.ok("signature")
        c.fail("claims", "evidence.claims-invalid", f"{exc.code}: {exc.message}")
        return None
    c.ok("signature")
    c.ok("claims")
    return evidence


def appraise(
    token: bytes | Submission,
    device: DeviceRecord | None,
    nonce: NonceRecord | None,
    references: ReferenceValues,
    policy: Policy,
    now: int,
    *,
    cti_seen: bool = False,
) -> Result:
    """Every check of ARCHITECTURE.md step 7 with its outcome; see policy.py for the table.

    `token`: the raw token, or the Submission the API already read (then it is not parsed
    again)."""
    sub = token if isinstance(token, Submission) else read(token)
    c = _Checks()
    digest = hashlib.sha256(sub.token).digest()
    ev = _identity(sub, device, now, c)
    if ev is None:
        return c.result(None, digest)

    nonce = _freshness(ev, nonce, policy, now, cti_seen, c)
    _references(ev, references, c)
    _binding(ev, nonce, c)
    _document(ev, policy, c)
    _liveness(ev, nonce, policy, c)
    if ev.consent.recorded:
        c.ok("consent", ev.consent.method.name.lower())
    else:
        c.fail("consent", "consent.missing", "no consent recorded")
    c.ok("decision", ev.decision.name.lower())
    return c.result(ev, digest)


def _freshness(
    ev: Evidence,
    nonce: NonceRecord | None,
    policy: Policy,
    now: int,
    cti_seen: bool,
    c: _Checks,
) -> NonceRecord | None:
    """Nonce, times and token id; returns the nonce record if it is this token's."""
    # Freshness: the verifier's nonce (RFC 9711 section 4.1) and the token's times.
    if nonce is None or nonce.nonce != ev.nonce:
        c.fail("nonce-known", "nonce.unknown", "this nonce was not issued here")
        nonce = None
    else:
        c.ok("nonce-known")
        if nonce.consumed:
            c.fail("nonce-unused", "nonce.replayed", "the nonce was already used")
        else:
            c.ok("nonce-unused")
        if now > nonce.expires_at:
            c.fail("nonce-fresh", "nonce.expired", f"the challenge expired at {nonce.expires_at}")
        else:
            c.ok("nonce-fresh")
    skew = policy.clock_skew_s
    if ev.iat > now + skew:
        c.fail("time-bounds", "evidence.not-yet-valid", f"iat {ev.iat} > now {now} + {skew}")
    elif ev.exp < now - skew:  # RFC 8392 section 3.1.4
        c.fail("time-bounds", "evidence.expired", f"exp {ev.exp} < now {now} - {skew}")
    elif nonce is not None and ev.iat < nonce.issued_at - skew:
        c.fail("time-bounds", "evidence.before-challenge", "signed before the challenge")
    else:
        c.ok("time-bounds")
    if cti_seen:  # RFC 8392 section 3.1.7: the token id is single use
        c.fail("cti-unique", "evidence.cti-replayed", "this cti was already accepted")
    else:
        c.ok("cti-unique")
    return nonce


def _references(ev: Evidence, references: ReferenceValues, c: _Checks) -> None:
    """The measurements against the known releases, and the debug status."""
    # Reference values: the release manifest digest and the models it lists (RFC 9711 4.2.16).
    release = ev.measurements[MeasuredItem.RELEASE_MANIFEST]
    models = references.releases.get(release)
    if models is None:
        c.fail("release-measurement", "reference.unknown-release", f"digest {release.hex()}")
        c.skip("model-measurements", "no known release")
    else:
        c.ok("release-measurement")
        unknown = [
            item.name
            for item, d in ev.measurements.items()
            if item is not MeasuredItem.RELEASE_MANIFEST and d not in models
        ]
        if unknown:
            c.fail("model-measurements", "reference.unknown-model", f"unknown: {unknown}")
        else:
            c.ok("model-measurements")
    if ev.dbgstat is DebugStatus.ENABLED:  # RFC 9711 section 4.2.9
        c.warn("debug-status", "debugging was enabled on the device")
    else:
        c.ok("debug-status")


def _binding(ev: Evidence, nonce: NonceRecord | None, c: _Checks) -> None:
    """The relying party's transaction and document commitment."""
    # Binding to the relying party's transaction and document commitment.
    if nonce is None:
        c.skip("transaction")
        c.skip("commitment")
    else:
        # The device signed the nonce, and the nonce commits to the transaction
        # (attest.commitment); this re-derives it, so the result can only echo the
        # transaction the device's signature covers.
        if nonce.txn_hash is None:
            c.skip("transaction", "no transaction bound")
        elif nonce.txn_salt is not None and nonce_binds_transaction(
            ev.nonce, nonce.txn_salt, nonce.txn_hash
        ):
            c.ok("transaction")
        else:
            c.fail(
                "transaction",
                "transaction.mismatch",
                "the nonce is not made from the challenge's transaction hash and salt",
            )
        if nonce.commitment is None:
            c.skip("commitment", "no commitment given")
        elif ev.rp_commitment_matched is True:
            c.ok("commitment")
        else:
            c.fail("commitment", "commitment.mismatch", "the device did not confirm the match")


def _document(ev: Evidence, policy: Policy, c: _Checks) -> None:
    """The travel document's authenticity and validity, as the device reported them."""
    # The document (ICAO 9303-11 section 5 passive, section 6 chip/active authentication).
    doc = ev.document
    if not doc.authenticated:
        c.fail("document-authenticated", "document.not-authenticated", f"{doc}")
    elif doc.anticlone is DeviceOutcome.NOT_SUPPORTED:
        c.warn("document-authenticated", "the chip supports no anti-cloning protocol")
    else:
        c.ok("document-authenticated")
    if doc.expired and policy.reject_expired_document:
        c.fail("document-valid", "document.expired", "the document has expired")
    else:
        c.ok("document-valid")


def _liveness(ev: Evidence, nonce: NonceRecord | None, policy: Policy, c: _Checks) -> None:
    """The liveness method, the challenge issued for this nonce, and the result."""
    # Liveness: the challenge must be the one this verifier issued for this nonce.
    lv = ev.liveness
    if lv.method is not policy.liveness_method:
        code = (
            "liveness.demo-method"
            if lv.method is LivenessMethod.ACTIVE_FIXED_DEMO
            else "liveness.wrong-challenge"
        )
        c.fail("liveness-method", code, f"{lv.method.name} under policy {policy.id}")
    else:
        c.ok("liveness-method")
    if nonce is None:
        c.skip("liveness-challenge")
    elif lv.challenge != nonce.challenge or lv.method is not nonce.liveness_method:
        c.fail("liveness-challenge", "liveness.wrong-challenge", "not the issued challenge")
    else:
        c.ok("liveness-challenge")
    if lv.result is DeviceOutcome.PASSED:
        c.ok("liveness-result")
    else:
        c.fail("liveness-result", "liveness.failed", f"{lv.result.name}, step {lv.failed_step}")
