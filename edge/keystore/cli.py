"""`edgeproof device keygen|show-key|enroll`: the device key's commands.

keygen     create the device key (TPM or software file); never overwrites an existing one
show-key   print the public key: kid, algorithm, JWK, COSE_Key or PEM (never the private key)
enroll     create or load the key and register it with the verifier (admin token)

The `device` group itself is edge/cli.py; the key's commands live here, beside the key
store they drive, as the session's commands live beside the session (edge/verify_cmd.py).
The key is named by a spec: tpm:PATH (default, blob under /var/lib/edgeproof/keys) or
file:PATH (a 0600 PKCS#8 PEM). $EDGEPROOF_KEY and $EDGEPROOF_TCTI set the defaults.
Exit codes: 0 success; 1 the key store, TPM or verifier refused; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.keystore.base import KeyStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parsers(g: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add keygen, show-key and enroll to the `device` group's subparsers `g`."""

    def key_args(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--key",
            default=os.environ.get("EDGEPROOF_KEY"),
            help="key spec: tpm:PATH or file:PATH (default: $EDGEPROOF_KEY, else "
            "tpm:/var/lib/edgeproof/keys/device.tpmkey)",
        )
        q.add_argument(
            "--tcti",
            default=os.environ.get("EDGEPROOF_TCTI"),
            help="how to reach the TPM (default: $EDGEPROOF_TCTI, else device:/dev/tpmrm0; "
            "swtpm:port=P for a software TPM)",
        )

    kg = g.add_parser("keygen", help="create the device key")
    key_args(kg)
    kg.add_argument("--alg", default="ES256", help="ES256 (default; TPM) or EdDSA (file only)")
    kg.set_defaults(func=_keygen)

    sk = g.add_parser("show-key", help="print the public key")
    key_args(sk)
    sk.add_argument(
        "--format",
        choices=("text", "jwk", "cose", "pem"),
        default="text",
        help="text (default), jwk (JSON), cose (COSE_Key, base64url) or pem",
    )
    sk.set_defaults(func=_show_key)

    en = g.add_parser("enroll", help="register the device key with the verifier")
    key_args(en)
    en.add_argument("--verifier", required=True, metavar="URL", help="verifier base URL")
    en.add_argument(
        "--token",
        default=os.environ.get("EDGEPROOF_ADMIN_TOKEN"),
        help="verifier admin token (or $EDGEPROOF_ADMIN_TOKEN, which keeps it out of ps)",
    )
    en.add_argument("--device-id", help="the name the verifier shows (default: host name)")
    en.add_argument("--create", action="store_true", help="create the key first if there is none")
    en.add_argument("--alg", default="ES256", help="algorithm for --create (default ES256)")
    en.set_defaults(func=_enroll)


def _fail(exc: Exception, code: int = EXIT_FAILED, spec: str | None = None) -> int:
    from edge.keystore import KeyNotFoundError

    if isinstance(exc, KeyNotFoundError) and spec:
        # The spec as given, `tpm:` included: a bare path would make keygen write a
        # software key where a TPM blob was expected (issue 19).
        exc = ValueError(
            f"{exc.code}: no device key at {spec}; "
            f"create it with `edgeproof device keygen --key {spec}`"
        )
    print(f"edgeproof device: {exc}", file=sys.stderr)
    return code


def _where(args: argparse.Namespace) -> dict[str, str]:
    """The key spec and TCTI from the arguments, with the device defaults."""
    from edge.keystore.open import DEFAULT_SPEC
    from edge.keystore.tpm import DEFAULT_TCTI

    return {"spec": args.key or DEFAULT_SPEC, "tcti": args.tcti or DEFAULT_TCTI}


def _print_key(store: KeyStore) -> None:
    from attest.keys import alg_name, b64url

    print(f"key:  {store!r}")
    print(f"alg:  {alg_name(store.alg)} ({store.alg})")
    print(f"kid:  {store.kid.hex()} ({b64url(store.kid)})")


def _keygen(args: argparse.Namespace) -> int:
    from edge.keystore import KeyStoreError, close_keystore, create_keystore, parse_alg

    try:
        store = create_keystore(**_where(args), alg=parse_alg(args.alg))
    except KeyStoreError as exc:
        usage = exc.code in ("keystore.bad-alg", "keystore.bad-spec")
        return _fail(exc, EXIT_USAGE if usage else EXIT_FAILED)
    try:
        print("created a new device key (enrol it with `edgeproof device enroll`)")
        _print_key(store)
    finally:
        close_keystore(store)
    return EXIT_OK


def _show_key(args: argparse.Namespace) -> int:
    from attest.keys import b64url
    from edge.keystore import KeyStoreError, close_keystore, open_keystore

    try:
        store = open_keystore(**_where(args))
    except KeyStoreError as exc:
        return _fail(exc, spec=_where(args)["spec"])
    try:
        public = store.public_key()
        if args.format == "jwk":
            print(json.dumps(public.jwk(), indent=2))
        elif args.format == "cose":
            print(b64url(public.cose_key_bytes()))
        elif args.format == "pem":
            sys.stdout.write(public.pem().decode("ascii"))
        else:
            _print_key(store)
            print(f"jwk:  {json.dumps(public.jwk())}")
    finally:
        close_keystore(store)
    return EXIT_OK


def _enroll(args: argparse.Namespace) -> int:
    from edge.keystore import (
        KeyNotFoundError,
        KeyStoreError,
        close_keystore,
        create_keystore,
        open_keystore,
        parse_alg,
    )
    from edge.keystore.enroll import default_device_id, enrol

    if not args.token:
        return _fail(ValueError("give the admin token: --token or $EDGEPROOF_ADMIN_TOKEN"), 2)
    try:
        try:
            store = open_keystore(**_where(args))
        except KeyNotFoundError:
            if not args.create:
                raise
            store = create_keystore(**_where(args), alg=parse_alg(args.alg))
            print("created a new device key")
    except KeyStoreError as exc:
        return _fail(exc, spec=_where(args)["spec"])
    try:
        result = enrol(
            store, args.verifier, args.token, device_id=args.device_id or default_device_id()
        )
    except KeyStoreError as exc:
        return _fail(exc)
    finally:
        close_keystore(store)
    print("enrolled" if result.created else "already enrolled")
    print(f"device: {result.device_id}")
    print(f"kid:    {result.kid}")
    print(f"alg:    {result.alg}")
    return EXIT_OK
