"""Outcome of each document-authentication check: the part of a reading that leaves the chip
module (the session turns it into attestation claims). Nothing personal in here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from edge.mrtd.errors import MrtdError


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_SUPPORTED = "not_supported"


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    code: str | None = None  # stable reason code when failed (or why not supported)
    message: str | None = None

    @classmethod
    def passed(cls) -> CheckResult:
        return cls(CheckStatus.PASSED)

    @classmethod
    def failed(cls, error: MrtdError) -> CheckResult:
        return cls(CheckStatus.FAILED, error.code, str(error))

    @classmethod
    def not_supported(cls, why: str) -> CheckResult:
        return cls(CheckStatus.NOT_SUPPORTED, "not_supported", why)


@dataclass(frozen=True)
class DocumentAuthentication:
    """What the session turns into attestation claims: one entry per check, nothing personal."""

    access_control: Literal["BAC", "PACE"]
    passive: CheckResult
    chip: CheckResult
    active: CheckResult
    not_expired: CheckResult
    protocol: str = ""  # what ran, e.g. "PACE-CAM AES-128 brainpoolP256r1" (edge.mrtd.reader)

    @property
    def authenticated(self) -> bool:
        """Genuine and current: passive authentication passed and no check failed.

        Chip or active authentication "not supported" does not fail the document (older
        passports lack both), but the claims report it as such.
        """
        checks = (self.passive, self.chip, self.active, self.not_expired)
        return self.passive.status is CheckStatus.PASSED and not any(
            c.status is CheckStatus.FAILED for c in checks
        )

    def rows(self) -> list[tuple[str, CheckResult]]:
        return [
            ("passive authentication", self.passive),
            ("chip authentication", self.chip),
            ("active authentication", self.active),
            ("document not expired", self.not_expired),
        ]
