"""Release manifests: what a genuine device image contains, signed by the release key.

The reference value provider (our release process, firmware/) lists the SHA-256 of every
installed file of the edge code, its default configuration and its models, and signs the
list. The device computes the same manifest from what is actually installed at start-up
and reports its digest in every attestation (measurements, RFC 9711 section 4.2.16); the
verifier accepts the digest only if a manifest signed by a trusted release key has it. A
changed file changes the digest, so tampering shows up as an unknown measurement.

The digest is SHA-256 over the deterministic CBOR payload, so device and verifier agree on
it byte for byte without sharing anything but this format.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attest import cbor, cose
from attest.cose import Signer
from attest.errors import ClaimsError

MANIFEST_FORMAT = "edgeproof-release-manifest/1"
MAX_MANIFEST_SIZE = 256 * 1024
MAX_FILES = 4096
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _fail(message: str) -> ClaimsError:
    return ClaimsError(message, code="manifest.invalid")


def _digests(m: Any, what: str) -> dict[str, bytes]:
    if not isinstance(m, Mapping) or len(m) > MAX_FILES:
        raise _fail(f"{what} must be a map of at most {MAX_FILES} entries")
    out = {}
    for path, digest in m.items():
        if not isinstance(path, str) or not _PATH.fullmatch(path) or ".." in path.split("/"):
            raise _fail(f"{what}: {path!r} is not a clean relative path")
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise _fail(f"{what}: the digest of {path} must be 32 bytes (SHA-256)")
        out[path] = digest
    return out


@dataclass(frozen=True)
class ReleaseManifest:
    """The files of one release and their SHA-256 digests."""

    name: str
    version: str
    files: Mapping[str, bytes]  # relative path of each edge code / configuration file
    models: Mapping[str, bytes]  # model file name

    def __post_init__(self) -> None:
        for what in ("name", "version"):
            if not isinstance(getattr(self, what), str) or not _NAME.fullmatch(getattr(self, what)):
                raise _fail(f"{what} must be a short identifier")
        object.__setattr__(self, "files", _digests(self.files, "files"))
        object.__setattr__(self, "models", _digests(self.models, "models"))

    def to_map(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "name": self.name,
            "version": self.version,
            "files": dict(self.files),
            "models": dict(self.models),
        }

    def encode(self) -> bytes:
        return cbor.encode(self.to_map())

    def digest(self) -> bytes:
        """The RELEASE_MANIFEST measurement a device running exactly this release reports."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, payload: bytes) -> ReleaseManifest:
        m = cbor.decode(payload, max_size=MAX_MANIFEST_SIZE, max_items=4 * MAX_FILES + 16)
        if not isinstance(m, dict) or set(m) != {"format", "name", "version", "files", "models"}:
            raise _fail("a manifest is {format, name, version, files, models}")
        if m["format"] != MANIFEST_FORMAT:
            raise _fail(f"unknown manifest format {m['format']!r}")
        return cls(m["name"], m["version"], m["files"], m["models"])


def sign_manifest(manifest: ReleaseManifest, release_key: Signer) -> bytes:
    return cose.sign1(manifest.encode(), release_key)


def verify_manifest(token: bytes, keys: cose.KeyLookup) -> ReleaseManifest:
    """A manifest signed by one of the trusted release keys, strictly decoded."""
    msg = cose.verify_sign1(token, keys, max_size=MAX_MANIFEST_SIZE + 1024)
    return ReleaseManifest.decode(msg.payload)
