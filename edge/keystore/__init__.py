"""The device signing key: one small protocol, a software key file and a TPM 2.0 back end.

The private key never appears in a log, a message or a repr; a TPM key never leaves the
TPM. `cose_signer(store)` turns any store into the key attest's signing functions take.
"""

from edge.keystore.base import CoseSigner, KeyStore, cose_signer, parse_alg
from edge.keystore.errors import (
    BackendMissingError,
    InsecureKeyFileError,
    KeyAccessError,
    KeyExistsError,
    KeyFileFormatError,
    KeyNotFoundError,
    KeySpecError,
    KeyStoreError,
    SigningError,
    TpmError,
)
from edge.keystore.open import DEFAULT_SPEC, close_keystore, create_keystore, open_keystore
from edge.keystore.software import SoftwareKeyStore

__all__ = [
    "DEFAULT_SPEC",
    "BackendMissingError",
    "CoseSigner",
    "InsecureKeyFileError",
    "KeyAccessError",
    "KeyExistsError",
    "KeyFileFormatError",
    "KeyNotFoundError",
    "KeySpecError",
    "KeyStore",
    "KeyStoreError",
    "SigningError",
    "SoftwareKeyStore",
    "TpmError",
    "close_keystore",
    "cose_signer",
    "create_keystore",
    "open_keystore",
    "parse_alg",
]
