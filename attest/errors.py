"""One exception family for the attest package, each error with a stable reason code.

Reason codes are the contract with users: the verifier puts them in problem documents,
`edgeproof attest inspect` prints them, auditors grep for them. They never change meaning;
new ones may be added. The message is for a person and may be reworded.
"""

from __future__ import annotations


class CodedError(Exception):
    """An error with a stable reason `code` and a `message` for a person.

    Every package of the project has one exception family; each family's base derives from
    this class so that they all carry codes the same way (`str(e)` is "code: message").
    """

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class AttestError(CodedError):
    """Base of every error raised by attest. `code` is the stable reason code."""

    code = "attest.error"


class DecodeError(AttestError, ValueError):
    """Bytes that are not strict, deterministic, bounded CBOR (RFC 8949 section 4.2.1)."""

    code = "cbor.malformed"


class EncodeError(AttestError, ValueError):
    """A value that profile v1's deterministic CBOR cannot carry (floats, sets, ...)."""

    code = "cbor.unsupported-type"


class CoseError(AttestError, ValueError):
    """A COSE structure that does not follow RFC 9052 or the strict profile."""

    code = "cose.malformed"


class SignatureError(CoseError):
    """The signature does not verify, or was made with an algorithm not pinned for the key."""

    code = "cose.bad-signature"


class KeyFormatError(AttestError, ValueError):
    """A COSE_Key, JWK or PEM that is not a supported, well-formed public or private key."""

    code = "key.malformed"


class UnknownKeyError(AttestError, LookupError):
    """No key is known for this kid."""

    code = "key.unknown-kid"


class ClaimsError(AttestError, ValueError):
    """Claims that break the closed schema of profile v1 or the EAR profile."""

    code = "claims.invalid"


class PrivacyError(ClaimsError):
    """Claims that carry, or could carry, personal or biometric data."""

    code = "claims.privacy"


class ProofError(AttestError, ValueError):
    """A Merkle inclusion or consistency proof that does not check (RFC 9162 section 2.1)."""

    code = "merkle.bad-proof"


class ResultError(AttestError, ValueError):
    """An attestation result a relying party must not rely on."""

    code = "ear.invalid"
