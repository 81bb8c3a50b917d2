"""The device's own measurement: the release manifest of what is installed, and its digest.

At start the device hashes its installed code, configuration and models into an
`attest.manifest.ReleaseManifest`; the manifest's digest is the RELEASE_MANIFEST
measurement (RFC 9711 section 4.2.16, `measurements`) in every attestation, next to the
digests of the models the session runs. The verifier accepts the digest only if a manifest
signed by a release key has it, so one changed byte anywhere in the measured set turns into
an unknown measurement and a contraindicated result.

What is measured (the one definition; the release tooling uses it too, see below):
- every regular file under the installed packages the device runs: `attest`, `edge`,
  `edgeproof_cli` and `firmware` (the CLI imports the firmware commands, and the device's
  default configuration and image files live in `firmware/image/`), keyed
  `<package>/<path>`; `__pycache__` folders are skipped (the service runs with
  PYTHONPYCACHEPREFIX on a RAM disk, so Python never reads byte code from beside the
  sources, see firmware/image/edgeproof-device.service);
- the model folder the face code loads from (`edge.face.models.model_dir()`: normally
  `firmware/models/`, or $EDGEPROOF_MODEL_DIR): each `*.tflite` under `models` by file
  name, any other file (its manifest.json) under `files` as `firmware/models/<name>`;
- the release name `edgeproof` and the installed distribution's version.
Any symlink or special file in the measured trees is an error: it could point anywhere.
Not measured: the Python interpreter and third-party packages (they belong to the OS image;
docs/deploy.md names the gap).

Why the rule lives here and not in firmware/: the device must compute its measurement
without the release tooling, `edge` may not import `firmware`, and `firmware` imports only
`attest`. So the release tooling does not re-implement the rule: `edgeproof firmware
manifest build` runs this module (`python -m edge.measure --cbor -`) on the reference
installation and reads back the manifest's CBOR, which attest decodes strictly. The
reference value is thereby the output of the very code the device runs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from attest.errors import AttestError
from attest.evidence import MeasuredItem
from attest.keys import b64url
from attest.manifest import MAX_FILES, ReleaseManifest

RELEASE_NAME = "edgeproof"
DISTRIBUTION = "edgeproof"
PACKAGES = ("attest", "edge", "edgeproof_cli", "firmware")
MODEL_SUFFIX = ".tflite"
MODEL_PREFIX = "firmware/models"
MODEL_DIR_ENV = "EDGEPROOF_MODEL_DIR"


class MeasureError(Exception):
    """The installed tree cannot be measured. `code` is the stable reason code."""

    code: str = "measure.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"


class NotInstalledError(MeasureError, LookupError):
    """A measured package, the model folder or the distribution metadata is missing."""

    code = "measure.not-installed"


class InstalledTreeError(MeasureError, ValueError):
    """The installed tree holds something a release cannot (symlink, odd name, too many)."""

    code = "measure.bad-tree"


@dataclass(frozen=True)
class Measurement:
    """The manifest of what is installed; `digest` is what every attestation reports."""

    manifest: ReleaseManifest

    @property
    def digest(self) -> bytes:
        return self.manifest.digest()

    @property
    def models(self) -> Mapping[str, bytes]:
        return self.manifest.models

    def evidence_measurements(
        self, *, detector: str, landmarks: str, embedder: str
    ) -> dict[MeasuredItem, bytes]:
        """The `measurements` claim for a session that runs these model files."""
        out = {MeasuredItem.RELEASE_MANIFEST: self.digest}
        chosen = {
            MeasuredItem.DETECTOR_MODEL: detector,
            MeasuredItem.LANDMARK_MODEL: landmarks,
            MeasuredItem.EMBEDDING_MODEL: embedder,
        }
        for item, name in chosen.items():
            if name not in self.models:
                raise NotInstalledError(
                    f"model {name!r} is not in the measured model folder; "
                    f"installed: {sorted(self.models)}"
                )
            out[item] = self.models[name]
        return out


def package_dirs(names: Sequence[str] = PACKAGES) -> dict[str, Path]:
    """Where each package is installed, found without importing (executing) it."""
    out = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if len(locations) != 1:
            raise NotInstalledError(f"package {name!r} is not installed as one folder")
        out[name] = Path(locations[0])
    return out


def default_model_dir() -> Path:
    """The folder the face code loads its models from, so the models that run are measured.

    The same rule as `edge.face.models.model_dir` ($EDGEPROOF_MODEL_DIR, else the installed
    firmware/models), restated here so that measuring needs neither numpy nor the face
    package (a release is measured in a staging environment with only the core
    dependencies); tests/firmware/test_measure.py checks that the two agree.
    """
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override)
    return package_dirs(("firmware",))["firmware"] / "models"


def installed_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise NotInstalledError(
            f"no installed distribution {DISTRIBUTION!r} (pip install it, editable or not)"
        ) from None


def _sha256(path: Path) -> bytes:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def _regular_files(root: Path, skip: Path | None) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every regular file under `root`, sorted."""
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        keep = []
        for d in sorted(dirs):
            path = here / d
            if path.is_symlink():
                raise InstalledTreeError(f"{path} is a symlink; a release holds no links")
            if d == "__pycache__" or (skip is not None and path.resolve() == skip):
                continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            path = here / name
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                raise InstalledTreeError(f"{path} is not a regular file (symlink or special)")
            found.append((path.relative_to(root).as_posix(), path))
    return found


def build_manifest(
    packages: Mapping[str, Path], model_dir: Path, *, name: str, version: str
) -> ReleaseManifest:
    """The manifest of the given installed package folders and model folder."""
    models_at = model_dir.resolve()
    if not models_at.is_dir():
        raise NotInstalledError(f"the model folder {model_dir} does not exist")
    files: dict[str, bytes] = {}
    for package, root in packages.items():
        for rel, path in _regular_files(root, models_at):
            files[f"{package}/{rel}"] = _sha256(path)
    models: dict[str, bytes] = {}
    for rel, path in _regular_files(models_at, None):
        if "/" in rel:
            raise InstalledTreeError(f"{path}: the model folder has no sub-folders")
        if rel.endswith(MODEL_SUFFIX):
            models[rel] = _sha256(path)
        else:
            files[f"{MODEL_PREFIX}/{rel}"] = _sha256(path)
    if len(files) > MAX_FILES or len(models) > MAX_FILES:
        raise InstalledTreeError(f"more than {MAX_FILES} files to measure: a stray tree?")
    try:
        return ReleaseManifest(name=name, version=version, files=files, models=models)
    except AttestError as exc:
        raise InstalledTreeError(exc.message) from None


def measure(
    *,
    packages: Mapping[str, Path] | None = None,
    model_dir: Path | None = None,
    version: str | None = None,
) -> Measurement:
    """Measure what is installed (or the given folders, for tests and release staging)."""
    manifest = build_manifest(
        package_dirs() if packages is None else packages,
        default_model_dir() if model_dir is None else model_dir,
        name=RELEASE_NAME,
        version=installed_version() if version is None else version,
    )
    return Measurement(manifest)


def describe(m: Measurement) -> dict[str, object]:
    """A JSON-able summary: digests in hex, as operators compare them."""
    return {
        "name": m.manifest.name,
        "version": m.manifest.version,
        "digest": m.digest.hex(),
        "digest_b64url": b64url(m.digest),
        "files": len(m.manifest.files),
        "models": {n: d.hex() for n, d in sorted(m.models.items())},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m edge.measure`: print the measurement, or write the manifest's CBOR."""
    parser = argparse.ArgumentParser(prog="python -m edge.measure", description=__doc__)
    parser.add_argument("--cbor", metavar="FILE", help="write the manifest's CBOR ('-': stdout)")
    args = parser.parse_args(argv)
    try:
        m = measure()
    except MeasureError as exc:
        print(f"edge.measure: {exc}", file=sys.stderr)
        return 1
    if args.cbor == "-":
        sys.stdout.buffer.write(m.manifest.encode())
        sys.stdout.buffer.flush()
    elif args.cbor:
        Path(args.cbor).write_bytes(m.manifest.encode())
    else:
        print(json.dumps(describe(m), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
