"""The verifier's one exception family and its one registry of reason codes.

Every way a request can fail has a stable reason code here, with the HTTP status it maps to
and a title; the API turns a `VerifierError` into an RFC 9457 problem document whose `type`
is a URN built from the code, so clients branch on the code and never on the wording.
docs/verifier.md lists the same table; tests/verifier/test_reasons.py triggers every code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    status: int
    title: str


REASONS: dict[str, Reason] = {
    # -- request level -------------------------------------------------------------------
    "request.unauthorized": Reason(401, "Missing or unknown bearer token"),
    "request.forbidden": Reason(403, "The token's role may not do this"),
    "request.not-found": Reason(404, "No such resource"),
    "request.method-not-allowed": Reason(405, "Method not allowed on this resource"),
    "request.too-large": Reason(413, "Request body too large"),
    "request.unsupported-media-type": Reason(415, "Wrong content type"),
    "request.not-acceptable": Reason(406, "No representation the Accept header allows"),
    "request.malformed": Reason(400, "Malformed request"),
    "request.conflict": Reason(409, "Conflicts with the current state"),
    "request.internal": Reason(500, "Internal error"),
    "request.unavailable": Reason(503, "Storage unavailable"),
    # -- appraisal: structure and identity (RFC 9052, RFC 8392) --------------------------
    "evidence.malformed": Reason(400, "Evidence is not a strict COSE_Sign1 token"),
    "evidence.claims-invalid": Reason(422, "Evidence claims break the closed profile v1 schema"),
    "evidence.bad-signature": Reason(422, "Evidence signature does not verify"),
    "evidence.alg-not-pinned": Reason(422, "Algorithm differs from the one pinned at enrolment"),
    "device.unknown": Reason(422, "No device is enrolled with this key"),
    "device.revoked": Reason(422, "The device key was revoked"),
    "device.key-retired": Reason(422, "The device key was rotated and its overlap has ended"),
    "device.deprecated-alg": Reason(
        422, "EdDSA (-8) is deprecated by RFC 9864; enrol as Ed25519 (-19)"
    ),
    # -- appraisal: freshness ------------------------------------------------------------
    "nonce.unknown": Reason(422, "The nonce was not issued by this verifier"),
    "nonce.expired": Reason(422, "The challenge expired"),
    "nonce.replayed": Reason(409, "The nonce was already used"),
    "evidence.cti-replayed": Reason(409, "This token id was already used"),
    "evidence.not-yet-valid": Reason(422, "iat is in the future beyond the allowed clock skew"),
    "evidence.expired": Reason(422, "exp has passed (beyond the allowed clock skew)"),
    "evidence.before-challenge": Reason(422, "iat is before the challenge was issued"),
    # -- appraisal: reference values and policy ------------------------------------------
    "reference.unknown-release": Reason(422, "Release manifest digest is not a reference value"),
    "reference.unknown-model": Reason(422, "A model digest is not in the release's manifest"),
    "transaction.mismatch": Reason(422, "The nonce is not made from the challenge's transaction"),
    "commitment.mismatch": Reason(422, "The document did not match the relying party's commitment"),
    "document.not-authenticated": Reason(422, "Passive or anti-clone authentication failed"),
    "document.expired": Reason(422, "The document has expired"),
    "liveness.failed": Reason(422, "The liveness challenge was not performed"),
    "liveness.wrong-challenge": Reason(422, "The liveness challenge is not the one issued"),
    "liveness.demo-method": Reason(422, "Fixed demo liveness is refused by this policy"),
    "consent.missing": Reason(422, "No consent was recorded"),
    # -- management ----------------------------------------------------------------------
    "manifest.invalid": Reason(422, "Not a release manifest signed by a trusted release key"),
    "device.bad-key": Reason(422, "Not a usable COSE_Key for a device"),
    "log.bad-size": Reason(400, "Tree size or index outside the log"),
    "log.corrupt": Reason(
        500, "The stored audit log has a gap: it was changed outside the verifier"
    ),
    # -- start-up (never sent over HTTP: the service refuses to start) --------------------
    "config.invalid": Reason(500, "Invalid configuration"),
}


class VerifierError(Exception):
    """Base of the verifier's errors; `code` is a key of REASONS."""

    code: str = "request.internal"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if self.code not in REASONS:
            raise KeyError(f"unregistered reason code {self.code!r}")
        self.extra = extra

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def status(self) -> int:
        return REASONS[self.code].status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class RequestError(VerifierError, ValueError):
    """A request the client can fix."""

    code = "request.malformed"


class NotFoundError(VerifierError, LookupError):
    code = "request.not-found"


class ConfigError(VerifierError, ValueError):
    """A configuration file or environment that cannot be used; raised before serving."""

    code = "config.invalid"
