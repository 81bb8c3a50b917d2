"""One exception family for the passport chip reader.

Every error carries a stable `code` (for logs, the CLI and the session's reason codes) and a
message that says what to do. Leaf classes also subclass the builtin that fits, so generic
callers can catch `ValueError` or `LookupError` without knowing this package.
"""

from __future__ import annotations

from attest.errors import CodedError


class MrtdError(CodedError):
    """Base of every error raised by edge.mrtd; codes are dotted like the rest of the project
    (`pa.csca-untrusted`), docs/passport.md lists the names they replaced."""

    code = "mrtd.error"


class TransportError(MrtdError, OSError):
    """PC/SC is unavailable, the reader is missing, or the card went away."""

    code = "pcsc.transport-failed"


class CardRemovedError(TransportError):
    code = "pcsc.card-removed"


class CardStatusError(MrtdError, ValueError):
    """The chip answered with a status word the protocol step does not allow."""

    code = "chip.unexpected-status"

    def __init__(self, message: str, sw: int, *, code: str | None = None) -> None:
        super().__init__(f"{message} (SW {sw:04X})", code=code)
        self.sw = sw


class FileNotFoundOnChipError(MrtdError, LookupError):
    """ISO 7816-4 SW 6A82: the elementary file does not exist on this chip."""

    code = "chip.file-not-found"


class AccessControlError(MrtdError, PermissionError):
    """BAC or PACE failed: usually a mistyped MRZ or CAN."""

    code = "access.failed"


class SecureMessagingError(MrtdError, ValueError):
    """A protected response failed its checks (ICAO 9303-11 section 9.8)."""

    code = "sm.invalid"


class ParseError(MrtdError, ValueError):
    """A data structure read from the chip (or a file) is malformed."""

    code = "lds.malformed"


class TrustStoreError(MrtdError, ValueError):
    """A CSCA certificate or master list could not be loaded."""

    code = "trust.invalid"


class VerificationError(MrtdError, ValueError):
    """A document-authentication check failed; recorded in the summary, never passed."""

    code = "pa.failed"
