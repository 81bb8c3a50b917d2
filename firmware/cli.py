"""`edgeproof firmware manifest build|sign|verify`: the release's reference values.

build   measure a reference installation with the device's own code (edge.measure) and
        write the unsigned manifest (deterministic CBOR)
sign    sign a manifest with the release key (make one with `edgeproof attest keygen`)
verify  check a signed manifest against trusted release public keys; with --installed,
        also compare it file by file with what this machine has installed

Exit codes: 0 success; 1 verification failed or the installation differs; 2 unreadable
input, bad key, or the measurement could not be made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attest.manifest import ReleaseManifest

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "firmware",
        help="release manifests: build, sign, verify the device's reference values",
        description="The device image's release tooling.",
    )
    g = p.add_subparsers(dest="firmware_command", metavar="SUBCOMMAND", required=True)
    m = g.add_parser(
        "manifest",
        help="build, sign or verify a release manifest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mg = m.add_subparsers(dest="manifest_command", metavar="ACTION", required=True)

    b = mg.add_parser("build", help="measure a reference installation into a manifest")
    b.add_argument("--out", required=True, type=Path, help="manifest file to write")
    b.add_argument(
        "--python",
        default=sys.executable,
        help="the reference installation's Python (default: this one), e.g. a staging venv",
    )
    b.add_argument("--expect-version", help="fail unless the installed version is this")
    b.set_defaults(func=_build)

    s = mg.add_parser("sign", help="sign a manifest with the release key")
    s.add_argument("manifest", type=Path, help="unsigned manifest (from build)")
    s.add_argument("--key", required=True, type=Path, help="release private key PEM (0600)")
    s.add_argument("--out", required=True, type=Path, help="signed manifest (COSE_Sign1)")
    s.set_defaults(func=_sign)

    v = mg.add_parser("verify", help="verify a signed manifest")
    v.add_argument("signed", type=Path, help="signed manifest (from sign)")
    v.add_argument(
        "--trust",
        action="append",
        required=True,
        type=Path,
        metavar="PEM",
        help="trusted release public key (repeat for several)",
    )
    v.add_argument("--installed", action="store_true", help="also compare with this installation")
    v.add_argument("--python", default=sys.executable, help="the installation's Python")
    v.set_defaults(func=_verify)


def _fail(exc: Exception, code: int = EXIT_USAGE) -> int:
    print(f"edgeproof firmware: {exc}", file=sys.stderr)
    return code


def _summary(manifest: ReleaseManifest) -> None:
    from attest.keys import b64url

    print(f"release:  {manifest.name} {manifest.version}")
    print(f"digest:   {manifest.digest().hex()} ({b64url(manifest.digest())})")
    print(f"files:    {len(manifest.files)}")
    for name, digest in sorted(manifest.models.items()):
        print(f"model:    {name} {digest.hex()}")


def _build(args: argparse.Namespace) -> int:
    from firmware import release

    try:
        manifest = release.build(args.python)
    except release.ReleaseError as exc:
        return _fail(exc)
    if args.expect_version and manifest.version != args.expect_version:
        return _fail(
            release.BuildError(
                f"the installation is version {manifest.version}, not {args.expect_version}"
            )
        )
    args.out.write_bytes(manifest.encode())
    _summary(manifest)
    print(f"wrote:    {args.out}")
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    from firmware import release

    try:
        manifest = release.read_manifest(args.manifest)
        key = release.load_release_key(args.key)
    except release.ReleaseError as exc:
        return _fail(exc)
    args.out.write_bytes(release.sign(manifest, key))
    _summary(manifest)
    print(f"signed:   by kid {key.kid.hex()} -> {args.out}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from firmware import release

    try:
        trusted = release.load_trusted_keys(args.trust)
        token = args.signed.read_bytes()
    except release.ReleaseError as exc:
        return _fail(exc)
    except OSError as exc:
        return _fail(release.ManifestError(f"cannot read {args.signed}: {exc.strerror}"))
    try:
        manifest = release.verify(token, trusted)
    except release.ReleaseError as exc:
        return _fail(exc, EXIT_MISMATCH)
    _summary(manifest)
    print("signature: valid (trusted release key)")
    if not args.installed:
        return EXIT_OK
    try:
        installed = release.build(args.python)
    except release.ReleaseError as exc:
        return _fail(exc)
    diff = release.compare(manifest, installed)
    if diff.empty:
        print("installed: matches this release")
        return EXIT_OK
    print("installed: DIFFERS from this release", file=sys.stderr)
    for line in diff.lines():
        print(f"  {line}", file=sys.stderr)
    return EXIT_MISMATCH
