"""The device signing key: one small protocol, a software key file and a TPM 2.0 back end.

The private key never appears in a log, a message or a repr; a TPM key never leaves the
TPM. `cose_signer(store)` turns any store into the key attest's signing functions take.
Code outside edge/keystore imports the names below and nothing deeper
(tests/test_architecture.py), so a back end can change without touching its callers.
"""

from edge.keystore.base import CoseSigner, KeyStore, cose_signer, parse_alg
from edge.keystore.enroll import EnrolError, Enrolment, default_device_id, enrol
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
    "EnrolError",
    "Enrolment",
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
    "default_device_id",
    "enrol",
    "open_keystore",
    "parse_alg",
]
