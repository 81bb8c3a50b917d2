"""`edgeproof attest ...`: look inside tokens, make keys, sign a sample.

`inspect` is the auditor's tool: it reads a token (raw CBOR, hex or base64, or `-` for
stdin), names every header and claim with its meaning and the kind of data it holds, and
reports each departure from the profile with its stable reason code. A claim outside the
registry is a privacy finding. With `--key` it checks the signature too.

Exit codes of `inspect`: 0 well-formed (and validly signed when a key was given);
1 the token breaks the profile or its signature does not verify; 2 the input or the key
file cannot be read or understood; 3 privacy finding (a claim the profile does not allow).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attest.keys import PublicKey
    from attest.report import TokenReport

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_PRIVACY = 0, 1, 2, 3

_HEX = re.compile(rb"[0-9A-Fa-f]+")
_ALGS = {"es256": -7, "esp256": -9, "eddsa": -8, "ed25519": -19}


class InputError(Exception):
    """The key file cannot be read or understood (exit code 2)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "attest",
        help="inspect attestation tokens, make keys, sign a sample",
        description="Work with edgeproof attestation tokens (COSE_Sign1 CWTs).",
    )
    g = p.add_subparsers(dest="attest_command", metavar="SUBCOMMAND", required=True)
    from edgeproof_cli import format_demo

    format_demo.add_parser(g)

    ins = g.add_parser(
        "inspect",
        help="decode a token and explain every header and claim",
        description="Decode an evidence token, attestation result (EAR) or release manifest "
        "and print every header and claim with its name, meaning, kind of data and value.",
        epilog="Exit codes: 0 well-formed (and validly signed with --key); 1 breaks the profile "
        "or bad signature; 2 unreadable input or key file; 3 privacy finding.",
    )
    ins.add_argument(
        "file", metavar="FILE", help="token file (raw CBOR, hex or base64), or - for stdin"
    )
    ins.add_argument(
        "--key",
        metavar="KEYFILE",
        help="verify with this key: PEM (public or private), COSE_Key, JWK or key set",
    )
    ins.add_argument("--alg", choices=sorted(_ALGS), help="algorithm to pin for a PEM or JWK key")
    ins.add_argument("--json", action="store_true", help="print the report as JSON")
    ins.set_defaults(func=_inspect)

    kg = g.add_parser(
        "keygen",
        help="make a signing key pair",
        description="Write PREFIX.key (private PKCS#8 PEM, mode 0600) and PREFIX.pub (public PEM).",
    )
    kg.add_argument("prefix", metavar="PREFIX", help="path prefix of the two files")
    kg.add_argument("--alg", choices=sorted(_ALGS), default="es256")
    kg.add_argument("--force", action="store_true", help="overwrite existing files")
    kg.set_defaults(func=_keygen)

    ss = g.add_parser(
        "sign-sample",
        help="sign a sample evidence token with a private key",
        description="Sign the sample evidence of one successful verification (fresh nonce, "
        "current time) and write the token.",
    )
    ss.add_argument("--key", required=True, metavar="KEYFILE", help="private key PEM (from keygen)")
    ss.add_argument("--alg", choices=sorted(_ALGS), help="algorithm to pin (default: by key type)")
    ss.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    ss.add_argument(
        "--format",
        choices=("raw", "hex", "base64"),
        default=None,
        help="output encoding (default: raw to a file, hex to stdout)",
    )
    ss.add_argument("--nonce", metavar="HEX", help="verifier nonce (default: 32 random bytes)")
    ss.add_argument("--now", type=int, metavar="SECONDS", help="signing time (default: now)")
    ss.set_defaults(func=_sign_sample)


# -- input ------------------------------------------------------------------------------


def load_keys(data: bytes, alg: int | None = None) -> dict[bytes, PublicKey]:
    """Verification keys from a PEM, a COSE_Key (raw or hex), a JWK or a JWKS key set."""
    from attest.errors import AttestError
    from attest.keys import PublicKey, SigningKey, public_key_from_pem
    from attest.keyset import KeySet

    try:
        stripped = data.strip()
        if stripped.startswith(b"-----BEGIN"):
            if b"PRIVATE KEY" in stripped.split(b"\n", 1)[0]:
                key = SigningKey.from_private_pem(stripped, alg).public
            else:
                key = public_key_from_pem(stripped, alg)
            return {key.kid: key}
        if stripped.startswith(b"{"):
            doc = json.loads(stripped)
            if isinstance(doc, dict) and "keys" in doc:
                return {e.key.kid: e.key for e in KeySet.from_json(doc).entries}
            key = PublicKey.from_jwk(doc, cose_alg=alg)
            return {key.kid: key}
        raw = binascii.unhexlify(stripped) if _HEX.fullmatch(stripped or b"x") else data
        key = PublicKey.from_cose_key(raw)
        return {key.kid: key}
    except (AttestError, ValueError) as exc:
        code = getattr(exc, "code", "key.malformed")
        raise InputError(f"the key file is not a usable key ({code}): {exc}") from None


# -- inspect ----------------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
    from attest.errors import AttestError
    from attest.report import describe
    from rp.tokenio import NotATokenError, TokenInputError, read_source, read_token

    try:
        given = read_token(args.file)
        keys = None
        if args.key:
            alg = _ALGS[args.alg] if args.alg else None
            keys = load_keys(read_source(args.key), alg)
    except NotATokenError as exc:
        return _fail(args, EXIT_INVALID, exc.code, str(exc))
    except (InputError, TokenInputError) as exc:
        return _fail(args, EXIT_USAGE, "input.unreadable", str(exc))
    if isinstance(given.data, str):
        return _fail(
            args,
            EXIT_USAGE,
            "input.jwt",
            "this is a JWT; inspect reads CBOR tokens (validate JWT results with "
            "`edgeproof rp validate`)",
        )
    token, encoding = given.data, given.form
    try:
        if encoding == "cmw":  # a result wrapped as a record CMW: inspect what it carries
            from attest.ear import unwrap_cmw

            inner = unwrap_cmw(bytes(token) if isinstance(token, bytes) else token)
            if isinstance(inner, str):
                raise AttestError("the CMW carries a JWT; validate it with `edgeproof rp "
                                  "validate`", code="input.jwt")  # fmt: skip
            token = inner
        report = describe(token, keys)
        ear = _ear_summary(token) if report.kind == "ear" else []
    except AttestError as exc:
        return _fail(
            args,
            EXIT_INVALID,
            exc.code,
            f"not a COSE_Sign1 token ({encoding} input): {exc.message}",
        )
    if args.json:
        doc = report.to_json()
        doc["encoding"] = encoding
        print(json.dumps(doc, indent=2))
    else:
        _print_report(report, encoding)
        for line in ear:
            print(line)
    if report.privacy_findings:
        return EXIT_PRIVACY
    return EXIT_OK if report.ok else EXIT_INVALID


def _ear_summary(token: bytes) -> list[str]:
    """The result's outcome in words (the submods claim is a nested map a person cannot
    read): status tier, each trust-vector claim (draft-ietf-rats-ar4si section 2.3),
    policy, face decision. Display only: the signature is `--key`'s business."""
    from attest.ear import DECISION_NAMES, Status, decode_ear_unverified
    from attest.errors import AttestError

    try:
        ear = decode_ear_unverified(token)
    except AttestError as exc:
        return [f"outcome: cannot be read ({exc.code}): {exc.message}"]

    def tier(value: int) -> str:
        for s in sorted(Status, reverse=True):
            if value >= s.value and s.value:
                return f"{s.label} ({value})"
        return "no claim (0)"

    decision = DECISION_NAMES[ear.decision] if ear.decision is not None else "none"
    lines = [
        f"outcome: status {ear.status.label}, decision {decision}, "
        f"policy {ear.policy_id}, appraised by {ear.verifier_build}",
        "  trust vector:",
    ]
    lines += [f"    {name:<18} {tier(v)}" for name, v in ear.trust_vector.items()]
    return lines


def _fail(args: argparse.Namespace, exit_code: int, code: str, message: str) -> int:
    if getattr(args, "json", False):
        print(
            json.dumps(
                {
                    "ok": False,
                    "findings": [{"code": code, "message": message, "severity": "error"}],
                },
                indent=2,
            )
        )
    print(f"edgeproof attest: {code}: {message}", file=sys.stderr)
    return exit_code


_KIND_TITLES = {
    "evidence": "evidence token (profile urn:edgeproof:v1)",
    "ear": "attestation result (EAR)",
    "release-manifest": "signed release manifest",
    "unknown": "COSE_Sign1 with an unknown payload",
}


def _print_report(r: TokenReport, encoding: str) -> None:
    tag = "tag 18" if r.tagged else "untagged"
    print(
        f"{_KIND_TITLES[r.kind]}: {r.size} bytes ({encoding} input, COSE_Sign1, {tag}), "
        f"payload {r.payload_size} bytes"
    )
    for title, entries in (
        ("protected header", r.protected),
        ("unprotected header", r.unprotected),
    ):
        if not entries:
            print(f"{title}: empty")
            continue
        print(f"{title}:")
        for e in entries:
            print(f"  {e.label!s:>6}  {e.name:<12} {e.text}")
            print(f"  {'':>6}  {'':<12} ({e.meaning})")
    print("claims:")
    for e in r.claims:
        print(f"  {e.label!s:>6}  {e.name:<14} {e.text}")
        print(f"  {'':>6}  {'':<14} {e.data_kind}: {e.meaning}")
    if r.signature_checked:
        sig = "valid" if r.signature_valid else "INVALID"
    else:
        sig = "not checked (give --key KEYFILE to check it)"
    print(f"signature: {len(r.signature)} bytes, {sig}")
    for f in r.findings:
        label = "PRIVACY FINDING" if f.severity == "privacy" else "PROBLEM"
        print(f"{label} {f.code}: {f.message}")
    if r.ok:
        signed = " and validly signed" if r.signature_checked else ""
        print(f"result: OK: well-formed{signed}")
    else:
        first = r.findings[0]
        print(f"result: REJECTED ({first.code}): {first.message}")


# -- keygen and sign-sample -------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    from attest.keys import SigningKey

    key = SigningKey.generate(_ALGS[args.alg])
    priv, pub = Path(args.prefix + ".key"), Path(args.prefix + ".pub")
    for p in (priv, pub):
        if p.exists() and not args.force:
            print(f"edgeproof attest: {p} exists; use --force to overwrite", file=sys.stderr)
            return EXIT_USAGE
    try:
        write_private(priv, key.private_pem())
        pub.write_bytes(key.public.pem())
    except OSError as exc:
        print(f"edgeproof attest: cannot write key files: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"private key: {priv} (keep it secret)")
    print(f"public key:  {pub}")
    print(f"kid:         {key.kid.hex()}")
    return EXIT_OK


def write_private(path: Path, data: bytes) -> None:
    """Create `path` readable by its owner only, before any secret byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)


def encode_output(token: bytes, fmt: str) -> bytes:
    if fmt == "hex":
        return token.hex().encode() + b"\n"
    if fmt == "base64":
        return base64.b64encode(token) + b"\n"
    return token


def _sign_sample(args: argparse.Namespace) -> int:
    import time

    from attest.errors import AttestError
    from attest.evidence import sign_evidence
    from attest.keys import SigningKey
    from attest.sample import sample_evidence
    from rp.tokenio import TokenInputError, read_source

    try:
        pem = read_source(args.key)
        key = SigningKey.from_private_pem(pem, _ALGS[args.alg] if args.alg else None)
        nonce = bytes.fromhex(args.nonce) if args.nonce else os.urandom(32)
        now = args.now if args.now is not None else int(time.time())
        ev = sample_evidence(nonce=nonce, cti=os.urandom(16), now=now)
        token = sign_evidence(ev, key)
    except TokenInputError as exc:
        print(f"edgeproof attest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (AttestError, ValueError) as exc:
        print(f"edgeproof attest: {getattr(exc, 'code', 'input.invalid')}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    fmt = args.format or ("raw" if args.out else "hex")
    out = encode_output(token, fmt)
    if args.out:
        Path(args.out).write_bytes(out)
        print(f"wrote {len(token)}-byte evidence token to {args.out} ({fmt})", file=sys.stderr)
    else:
        sys.stdout.buffer.write(out)
    return EXIT_OK
