"""Reading and authenticating the passport chip (ICAO Doc 9303 parts 10 and 11) over PC/SC.

This module is the package's public face: code outside edge/mrtd imports these names and
nothing deeper (tests/test_architecture.py holds it to that), so the protocol modules (BAC,
PACE, secure messaging, the LDS parsers) can change without touching the session. The rest
of the device reads a chip with `read_passport` over a `Transport` (`PcscTransport`) and a
`TrustStore`; the reading's `DocumentAuthentication` is what becomes attestation claims.
Every error derives from `MrtdError`, a `CodedError` with a dotted code. See
docs/passport.md.
"""

from edge.mrtd.csca import TrustStore
from edge.mrtd.errors import (
    AccessControlError,
    CardRemovedError,
    CardStatusError,
    FileNotFoundOnChipError,
    MrtdError,
    ParseError,
    SecureMessagingError,
    TransportError,
    TrustStoreError,
    VerificationError,
)
from edge.mrtd.mrz import Mrz, MrzKey
from edge.mrtd.reader import PassportReading, read_passport
from edge.mrtd.results import CheckResult, CheckStatus, DocumentAuthentication
from edge.mrtd.transport import PcscTransport, Transport, list_readers

__all__ = [
    "AccessControlError",
    "CardRemovedError",
    "CardStatusError",
    "CheckResult",
    "CheckStatus",
    "DocumentAuthentication",
    "FileNotFoundOnChipError",
    "MrtdError",
    "Mrz",
    "MrzKey",
    "ParseError",
    "PassportReading",
    "PcscTransport",
    "SecureMessagingError",
    "Transport",
    "TransportError",
    "TrustStore",
    "TrustStoreError",
    "VerificationError",
    "list_readers",
    "read_passport",
]
