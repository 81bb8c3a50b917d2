"""A software device key: a PKCS#8 PEM file, mode 0600, ES256 or EdDSA.

For development boards and the demo. The private key lives in process memory while the
service runs; the device image keeps that memory off disk (swap and core dumps are off,
firmware/image/). Deployed devices with a TPM use `edge.keystore.tpm` instead.
"""

from __future__ import annotations

from pathlib import Path

from attest.errors import KeyFormatError
from attest.keys import ES256, PublicKey, SigningKey, alg_name
from edge.keystore import files
from edge.keystore.errors import KeyFileFormatError


class SoftwareKeyStore:
    """A signing key loaded from a private PEM file. Its repr shows the path and kid only."""

    def __init__(self, path: Path, key: SigningKey) -> None:
        self._path = path
        self._key = key

    @classmethod
    def create(cls, path: str | Path, alg: int = ES256) -> SoftwareKeyStore:
        """A fresh key written to a new file `path` (0600, atomic, never overwrites)."""
        target = Path(path)
        try:
            key = SigningKey.generate(alg)
        except KeyFormatError as exc:
            raise KeyFileFormatError(exc.message, code="keystore.bad-alg") from None
        files.write_new(target, key.private_pem())
        return cls(target, key)

    @classmethod
    def load(cls, path: str | Path, alg: int | None = None) -> SoftwareKeyStore:
        """The key in `path`, refused if anyone but its owner could read or change the file."""
        target = Path(path)
        pem = files.read_private(target)
        try:
            key = SigningKey.from_private_pem(pem, alg)
        except KeyFormatError as exc:
            raise KeyFileFormatError(f"{target}: {exc.message}") from None
        return cls(target, key)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def alg(self) -> int:
        return self._key.alg

    @property
    def kid(self) -> bytes:
        return self._key.kid

    def public_key(self) -> PublicKey:
        return self._key.public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def __repr__(self) -> str:
        return (
            f"SoftwareKeyStore(path={str(self._path)!r}, alg={alg_name(self.alg)}, "
            f"kid={self.kid.hex()})"
        )
