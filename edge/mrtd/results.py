"""Outcome of each document-authentication check: the part of a reading that leaves the chip
module (the session turns it into attestation claims). Nothing personal in here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Literal

from edge.mrtd.errors import MrtdError


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_SUPPORTED = "not_supported"
    NOT_CHECKED = "not_checked"  # the input needed was absent (e.g. a data group not dumped)
    # The check ran but proves nothing: chip or active authentication against a DG14/DG15
    # key that passive authentication did not authenticate (see DocumentAuthentication).
    INCONCLUSIVE = "inconclusive"


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
    """What the session turns into attestation claims: one entry per check, nothing personal.

    Chip authentication (9303-11 section 6.2) and active authentication (6.1) prove only
    that the chip holds the private key of DG14 or DG15; those keys are the issuer's only if
    passive authentication (5.1) verified the data groups. A cloned chip with its own keys
    in forged DG14/DG15 "passes" CA and AA. So, by construction, a chip or active result of
    "passed" is turned into "inconclusive" here whenever passive authentication did not
    pass: no caller can build a summary that says otherwise.
    """

    access_control: Literal["BAC", "PACE"]
    passive: CheckResult
    chip: CheckResult
    active: CheckResult
    not_expired: CheckResult
    protocol: str = ""  # what ran, e.g. "PACE-CAM AES-128 brainpoolP256r1" (edge.mrtd.reader)

    def __post_init__(self) -> None:
        if self.passive.status is CheckStatus.PASSED:
            return
        chip_key = "EF.CardSecurity" if self.protocol.startswith("PACE-CAM") else "DG14"
        for name, what in (("chip", chip_key), ("active", "DG15")):
            result: CheckResult = getattr(self, name)
            if result.status is CheckStatus.PASSED:
                downgraded = replace(
                    result,
                    status=CheckStatus.INCONCLUSIVE,
                    code=f"{'ca' if name == 'chip' else 'aa'}.key-unauthenticated",
                    message=f"the {what} key is not authenticated: passive authentication "
                    "did not pass, so this proves nothing about the chip",
                )
                object.__setattr__(self, name, downgraded)

    @property
    def authenticated(self) -> bool:
        """Genuine and current: passive authentication passed and no check failed.

        Chip or active authentication "not supported" does not fail the document (older
        passports lack both), but the claims report it as such.
        """
        checks = (self.passive, self.chip, self.active, self.not_expired)
        return self.passive.status is CheckStatus.PASSED and all(
            c.status in (CheckStatus.PASSED, CheckStatus.NOT_SUPPORTED) for c in checks
        )

    def rows(self) -> list[tuple[str, CheckResult]]:
        return [
            ("passive authentication", self.passive),
            ("chip authentication", self.chip),
            ("active authentication", self.active),
            ("document not expired", self.not_expired),
        ]
