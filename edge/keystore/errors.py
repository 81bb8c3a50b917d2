"""One exception family for edge.keystore, each error with a stable reason code.

Codes are the contract with operators and logs; messages say what to do. No message ever
contains key material: at most a path, an algorithm name or a kid.
"""

from __future__ import annotations

from attest.errors import CodedError


class KeyStoreError(CodedError):
    """Base of every error raised by edge.keystore. `code` is the stable reason code."""

    code = "keystore.error"


class KeyExistsError(KeyStoreError, FileExistsError):
    """`create` found a key already there: a device key is never overwritten silently."""

    code = "keystore.key-exists"


class KeyNotFoundError(KeyStoreError, FileNotFoundError):
    """No key (or key blob) at the configured path: run `edgeproof device keygen` first."""

    code = "keystore.key-not-found"


class InsecureKeyFileError(KeyStoreError, PermissionError):
    """A key file others could read or replace (group/world bits, other owner, symlink)."""

    code = "keystore.insecure-file"


class KeyAccessError(KeyStoreError, PermissionError):
    """The key file exists but this user may not open it: run as the user that owns it."""

    code = "keystore.key-unreadable"


class KeyFileFormatError(KeyStoreError, ValueError):
    """A key file that is not what its back end writes (wrong format, curve, size)."""

    code = "keystore.bad-key-file"


class KeySpecError(KeyStoreError, ValueError):
    """A key store spec or algorithm name that makes no sense."""

    code = "keystore.bad-spec"


class BackendMissingError(KeyStoreError, ImportError):
    """The library a back end needs (tpm2-pytss) is not installed on this machine."""

    code = "keystore.backend-missing"


class TpmError(KeyStoreError, OSError):
    """The TPM could not be reached, or refused an operation."""

    code = "keystore.tpm-failed"


class SigningError(KeyStoreError, RuntimeError):
    """A signature the back end produced does not verify with its own public key."""

    code = "keystore.bad-signature"
