"""One text form for "where the device key is", shared by the CLI and the session.

file:PATH   a software key file (PKCS#8 PEM, 0600), e.g. file:/var/lib/edgeproof/keys/device.pem
tpm:PATH    a TPM key, its wrapped blob in PATH, e.g. tpm:/var/lib/edgeproof/keys/device.tpmkey
PATH        same as file:PATH

The TPM is reached through a TCTI (`device:/dev/tpmrm0` on a device, `swtpm:port=P` in
tests), passed separately because it names the TPM, not the key.
"""

from __future__ import annotations

from attest.keys import ES256, alg_name
from edge.keystore.base import KeyStore
from edge.keystore.errors import KeySpecError
from edge.keystore.tpm import DEFAULT_TCTI

DEFAULT_SPEC = "tpm:/var/lib/edgeproof/keys/device.tpmkey"


def _split(spec: str) -> tuple[str, str]:
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ("file", "tpm"):
        kind, rest = "file", spec
    if not rest:
        raise KeySpecError(f"key spec {spec!r} names no path; use file:PATH or tpm:PATH")
    return kind, rest


def open_keystore(spec: str, *, tcti: str = DEFAULT_TCTI) -> KeyStore:
    """The existing key named by `spec`."""
    kind, path = _split(spec)
    if kind == "tpm":
        from edge.keystore.tpm import TpmKeyStore

        return TpmKeyStore.load(path, tcti)
    from edge.keystore.software import SoftwareKeyStore

    return SoftwareKeyStore.load(path)


def create_keystore(spec: str, *, alg: int = ES256, tcti: str = DEFAULT_TCTI) -> KeyStore:
    """A new key at `spec`; refuses to replace an existing one."""
    kind, path = _split(spec)
    if kind == "tpm":
        if alg != ES256:
            raise KeySpecError(
                f"a TPM key signs ES256 only (TPMs implement P-256, not {alg_name(alg)})",
                code="keystore.bad-alg",
            )
        from edge.keystore.tpm import TpmKeyStore

        return TpmKeyStore.create(path, tcti)
    from edge.keystore.software import SoftwareKeyStore

    return SoftwareKeyStore.create(path, alg)


def close_keystore(store: KeyStore) -> None:
    """Release what a store holds (the TPM connection); a no-op for a software key."""
    close = getattr(store, "close", None)
    if callable(close):
        close()
