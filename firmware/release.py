"""Release manifests: build from a reference installation, sign, verify, compare.

The reference value provider's side (RFC 9334 section 3.5) of the measurement the device
reports. What a release contains is defined once, by the device's own measurement
(`edge.measure`): `build` runs that module in the reference installation's Python and
reads back the manifest's deterministic CBOR, so the reference value is the output of the
code the device runs (firmware imports only attest, and never re-implements the rule).
`sign` and `verify` are attest's COSE_Sign1 under the strict profile with the release key.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from attest.errors import AttestError, CodedError
from attest.keys import PublicKey, SigningKey, public_key_from_pem
from attest.manifest import ReleaseManifest, sign_manifest, verify_manifest

BUILD_TIMEOUT_S = 300.0
MAX_FILE = 1024 * 1024

#: What a device release never holds (issue 17): the test and demo rig (the passport
#: emulator, the rendered camera, the servers the tests start) is the top-level `rig`
#: package, outside the measured packages (edge.measure.PACKAGES), and its demo media are
#: photos. A manifest naming either was measured on a tree that mixed them back in; the
#: release process refuses it rather than sign test infrastructure as device code.
RIG_PREFIXES = ("rig/",)
MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".mp4", ".avi", ".y4m")


class ReleaseError(CodedError):
    """Base of every error raised by firmware. `code` is the stable reason code."""

    code = "release.error"


class BuildError(ReleaseError, RuntimeError):
    """The reference installation could not be measured."""

    code = "release.build-failed"


class ReleaseKeyError(ReleaseError, ValueError):
    """A release key file that is missing, malformed, or readable by others."""

    code = "release.bad-key"


class ManifestError(ReleaseError, ValueError):
    """A manifest file that is not a (signed) release manifest, or fails verification."""

    code = "release.bad-manifest"


def build(python: str = sys.executable, *, timeout: float = BUILD_TIMEOUT_S) -> ReleaseManifest:
    """The manifest of the installation `python` runs, measured by that installation's edge.

    `-P` keeps the working directory off sys.path, so a source checkout in the current
    folder cannot stand in for the installed packages.
    """
    try:
        proc = subprocess.run(
            [python, "-P", "-m", "edge.measure", "--cbor", "-"],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"cannot run the device measurement with {python}: {exc}") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise BuildError(f"the device measurement failed in {python}: {detail}")
    try:
        manifest = ReleaseManifest.decode(proc.stdout)
    except AttestError as exc:
        raise BuildError(f"the device measurement printed no valid manifest: {exc}") from None
    stray = rig_files(manifest)
    if stray:
        raise BuildError(
            f"the installation in {python} holds test-rig files, which a device release "
            f"never does: {', '.join(stray[:5])}{' ...' if len(stray) > 5 else ''}",
            code="release.rig-in-release",
        )
    return manifest


def rig_files(manifest: ReleaseManifest) -> list[str]:
    """The manifest's files that belong to the test rig or its media (RIG_PREFIXES,
    MEDIA_SUFFIXES): none, for a device release."""
    return sorted(
        p
        for p in manifest.files
        if p.startswith(RIG_PREFIXES) or p.lower().endswith(MEDIA_SUFFIXES)
    )


def _read(path: Path, what: str, error: type[ReleaseError] = ManifestError) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE:
        raise error(f"{path} is larger than any {what}")
    return data


def load_release_key(path: Path) -> SigningKey:
    """The release signing key (PKCS#8 PEM), refused if group or others may read it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ReleaseKeyError(f"cannot read the release key {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode) or stat.S_IMODE(mode) & 0o077:
        raise ReleaseKeyError(
            f"{path} has mode {stat.S_IMODE(mode):04o}; a release key must be a regular "
            f"file only its owner can read (chmod 600 {path})",
            code="release.insecure-key",
        )
    try:
        return SigningKey.from_private_pem(_read(path, "release key", ReleaseKeyError))
    except AttestError as exc:
        raise ReleaseKeyError(f"{path}: {exc.message}") from None


def load_trusted_keys(paths: Iterable[Path]) -> dict[bytes, PublicKey]:
    """Trusted release public keys (SubjectPublicKeyInfo PEM), by kid."""
    keys: dict[bytes, PublicKey] = {}
    for path in paths:
        try:
            key = public_key_from_pem(_read(path, "public key", ReleaseKeyError))
        except AttestError as exc:
            raise ReleaseKeyError(f"{path}: {exc.message}") from None
        keys[key.kid] = key
    if not keys:
        raise ReleaseKeyError("give at least one trusted release public key (--trust)")
    return keys


def read_manifest(path: Path) -> ReleaseManifest:
    """An unsigned manifest file, as `build` wrote it."""
    try:
        return ReleaseManifest.decode(_read(path, "manifest"))
    except AttestError as exc:
        raise ManifestError(f"{path} is not a release manifest: {exc}") from None


def sign(manifest: ReleaseManifest, key: SigningKey) -> bytes:
    return sign_manifest(manifest, key)


def verify(token: bytes, trusted: Mapping[bytes, PublicKey]) -> ReleaseManifest:
    """The manifest in `token` if one of `trusted` signed it (strict profile)."""
    try:
        return verify_manifest(token, trusted)
    except AttestError as exc:
        raise ManifestError(f"the signed manifest does not verify: {exc}", code=exc.code) from None


@dataclass(frozen=True)
class Difference:
    """How an installation differs from a release: what an operator needs to find tampering."""

    changed: tuple[str, ...]
    added: tuple[str, ...]
    missing: tuple[str, ...]
    version: tuple[str, str] | None

    @property
    def empty(self) -> bool:
        return not (self.changed or self.added or self.missing or self.version)

    def lines(self) -> list[str]:
        out = [f"changed: {p}" for p in self.changed]
        out += [f"not in the release: {p}" for p in self.added]
        out += [f"missing: {p}" for p in self.missing]
        if self.version:
            out.append(f"version: release {self.version[0]}, installed {self.version[1]}")
        return out


def compare(release: ReleaseManifest, installed: ReleaseManifest) -> Difference:
    def entries(m: ReleaseManifest) -> dict[str, bytes]:
        return {**m.files, **{f"model:{n}": d for n, d in m.models.items()}}

    want, have = entries(release), entries(installed)
    return Difference(
        changed=tuple(sorted(p for p in want.keys() & have.keys() if want[p] != have[p])),
        added=tuple(sorted(have.keys() - want.keys())),
        missing=tuple(sorted(want.keys() - have.keys())),
        version=(
            None
            if (release.name, release.version) == (installed.name, installed.version)
            else (release.version, installed.version)
        ),
    )
