"""`edgeproof attest demo`: the attestation format alone, end to end, in one command.

Makes a device key, signs the sample evidence of one successful verification, inspects
the token claim by claim as an auditor would, verifies it with the public key alone, and
shows that a token changed by one byte is refused. Every step is printed. With
`--out DIR` the key, the public key and the token stay in DIR; otherwise they live in a
temporary folder that is removed at the end. The whole mission (chip emulator, camera
replay, verifier) is `edgeproof demo` (edgeproof_cli/demo.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `demo` to the `edgeproof attest` group."""
    p = sub.add_parser(
        "demo",
        help="end-to-end example: make a key, sign a sample evidence token, inspect and verify it",
        description="Make a key, sign a sample evidence token, inspect it and verify it; "
        "each step is printed.",
    )
    p.add_argument("--out", metavar="DIR", help="keep the key and token files in DIR")
    p.add_argument(
        "--alg",
        choices=("es256", "eddsa"),
        default="es256",
        help="device key algorithm (TPMs and secure elements sign ES256 only)",
    )
    p.set_defaults(func=_demo)


def _step(n: int, text: str) -> None:
    print(f"\n== step {n}: {text}", flush=True)


def _demo(args: argparse.Namespace) -> int:
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        return run_demo(out, args.alg)
    with tempfile.TemporaryDirectory(prefix="edgeproof-demo-") as tmp:
        return run_demo(Path(tmp), args.alg)


def run_demo(out: Path, alg_name: str) -> int:
    from attest.errors import AttestError
    from attest.evidence import sign_evidence, verify_evidence
    from attest.keys import EDDSA, ES256, SigningKey, public_key_from_pem
    from attest.report import describe
    from attest.sample import sample_evidence
    from edgeproof_cli.attest_cmd import _print_report, write_private

    alg = ES256 if alg_name == "es256" else EDDSA
    _step(1, f"make a device signing key ({alg_name.upper()})")
    key = SigningKey.generate(alg)
    write_private(out / "device.key", key.private_pem())
    (out / "device.pub").write_bytes(key.public.pem())
    print(f"kid (RFC 9679 thumbprint): {key.kid.hex()}")
    print(f"wrote {out / 'device.key'} (private, mode 0600) and {out / 'device.pub'}")

    _step(2, "sign the evidence of one successful verification")
    nonce = os.urandom(32)  # in real use the verifier issues it (POST /v1/challenges)
    ev = sample_evidence(nonce=nonce, cti=os.urandom(16), now=int(time.time()))
    token = sign_evidence(ev, key)
    (out / "evidence.cbor").write_bytes(token)
    print(f"{len(token)}-byte COSE_Sign1 token written to {out / 'evidence.cbor'}")
    print("no image, template, score or personal datum is in it: see the claims below")

    _step(3, "inspect it as an auditor would (edgeproof attest inspect evidence.cbor)")
    _print_report(describe(token), "raw")

    _step(4, "verify the signature with the public key alone")
    public = public_key_from_pem((out / "device.pub").read_bytes(), alg)
    checked, msg = verify_evidence(token, {public.kid: public})
    print(
        f"signature valid; signed by kid {msg.kid.hex()[:16]}...; "
        f"decision {checked.decision.name.lower()}; document authenticated "
        f"{str(checked.document.authenticated).lower()}"
    )

    _step(5, "change one signed byte and verify again: it must be refused")
    tampered = bytearray(token)
    tampered[len(token) // 2] ^= 0x01
    try:
        verify_evidence(bytes(tampered), {public.kid: public})
    except AttestError as exc:
        print(f"refused, as it must be: {exc.code}: {exc.message}")
    else:  # pragma: no cover - would be a broken signature check
        print("ERROR: a tampered token was accepted", file=sys.stderr)
        return 1
    print("\ndemo finished: the token verifies, and a changed token does not.")
    return 0
