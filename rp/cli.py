"""`edgeproof rp ...`: what a relying party runs to check a result it was handed.

Exit codes (stable, for scripts):
  0  valid, affirming, faces matched, bound to the given transaction or nonce
  1  invalid: bad signature, unknown key, wrong transaction or nonce, expired, malformed,
     or not a token at all (code input.not-a-token)
  2  usage error (bad arguments, unreadable files, verifier unreachable); one line on stderr
  3  valid and bound, but not to be acted on: the status is not affirming or no match
"""

from __future__ import annotations

import argparse
import binascii
import json
import time
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("rp", help="relying-party tools: validate a signed result offline")
    rp_sub = p.add_subparsers(dest="rp_command", metavar="COMMAND", required=True)
    v = rp_sub.add_parser(
        "validate",
        help="validate a result (CWT or JWT) with the verifier's key set",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument(
        "result",
        help="result file (CBOR, hex, base64, JWT, or a CMW record), or - for stdin",
    )
    src = v.add_mutually_exclusive_group(required=True)
    src.add_argument("--keys", metavar="KEYSET", help="the verifier's key set (JSON file)")
    src.add_argument("--verifier", metavar="URL", help="fetch the key set from this verifier")
    v.add_argument("--txn", metavar="HASH", help="expected transaction hash (hex, SHA-256)")
    v.add_argument("--nonce", metavar="HEX", help="expected challenge nonce (hex)")
    v.add_argument("--max-age", type=int, default=600, help="seconds a result stays acceptable")
    v.add_argument("--json", action="store_true", help="print the outcome as JSON")
    v.add_argument("--proof", metavar="FILE", help="the result's .tlog-proof: check it is logged")
    v.add_argument("--log-key", metavar="VKEY", help="the log's vkey (text or file) for --proof")
    v.add_argument(
        "--require-witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="refuse unless the proof carries this witness's cosignature (repeatable)",
    )
    v.set_defaults(func=_validate)


class UsageError(Exception):
    """A mistake in the command line or its surroundings: exit 2 with one line."""


#: --txn is a SHA-256 (draft-ietf-rats-ear binds results to it); nonces are 8 to 64 bytes
#: (RFC 9711 section 4.1, eat_nonce).
TXN_BYTES = 32
NONCE_BYTES = (8, 64)


def _hex(value: str | None, what: str, size: tuple[int, int]) -> bytes | None:
    if value is None:
        return None
    try:
        raw = binascii.unhexlify(value.strip())
    except (binascii.Error, ValueError):
        raise UsageError(f"{what} must be hex, got {value[:40]!r}") from None
    lo, hi = size
    if not lo <= len(raw) <= hi:
        want = f"{lo} bytes" if lo == hi else f"{lo} to {hi} bytes"
        raise UsageError(f"{what} must be {want} ({2 * lo} hex digits), got {len(raw)}")
    return raw


def _keys(args: argparse.Namespace) -> Any:
    """The key set, from a file or the verifier; every failure is a UsageError."""
    import urllib.error

    from attest.errors import AttestError
    from attest.keyset import KeySet
    from rp.keyset_cache import fetch_keyset
    from rp.tokenio import TokenInputError, read_source

    if args.keys:
        try:
            return KeySet.from_json(read_source(args.keys))
        except TokenInputError as exc:
            raise UsageError(f"--keys: {exc}") from None
        except AttestError as exc:
            raise UsageError(f"--keys: not a key set: {exc.code}: {exc.message}") from None
    try:
        return fetch_keyset(args.verifier)
    except urllib.error.HTTPError as exc:
        raise UsageError(f"the verifier at {args.verifier} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = getattr(exc.reason, "strerror", None) or str(exc.reason)
        raise UsageError(f"cannot reach the verifier at {args.verifier}: {reason}") from None
    except TimeoutError:
        raise UsageError(f"the verifier at {args.verifier} did not answer in time") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot fetch the key set from {args.verifier}: {exc}") from None
    except AttestError as exc:
        raise UsageError(f"{args.verifier}: bad key set: {exc.code}: {exc.message}") from None


def _validate(args: argparse.Namespace) -> int:
    import sys

    from attest.ear import DECISION_NAMES
    from attest.errors import AttestError
    from attest.rp import validate_result
    from rp.tokenio import NotATokenError, TokenInputError, read_token

    try:
        txn = _hex(args.txn, "--txn", (TXN_BYTES, TXN_BYTES))
        nonce = _hex(args.nonce, "--nonce", NONCE_BYTES)
        if args.max_age <= 0:
            raise UsageError(f"--max-age must be a positive number of seconds, not {args.max_age}")
        try:
            token = read_token(args.result)
        except NotATokenError as exc:
            out = {"valid": False, "code": exc.code, "message": str(exc)}
            print(json.dumps(out) if args.json else f"INVALID {exc.code}: {exc}")
            return 1
        except TokenInputError as exc:
            raise UsageError(str(exc)) from None
        keys = _keys(args)
    except UsageError as exc:
        print(f"edgeproof rp validate: {exc}", file=sys.stderr)
        return 2
    try:
        res = validate_result(
            token.data,
            keys,
            now=int(time.time()),
            expected_txn_hash=txn,
            expected_nonce=nonce,
            max_age_s=args.max_age,
        )
    except AttestError as exc:
        out = {"valid": False, "code": exc.code, "message": exc.message}
        print(json.dumps(out) if args.json else f"INVALID {exc.code}: {exc.message}")
        return 1
    logged = _logged(args, token)
    if isinstance(logged, int):
        return logged
    decision = DECISION_NAMES[res.decision] if res.decision is not None else "none"
    out = {
        "valid": True,
        "accepted": res.accepted,
        "status": res.tier.label,
        "decision": decision,
        "appraisal_id": res.ear.appraisal_id,
        "issued_at": res.ear.iat,
        "serialisation": res.serialisation,
        "profile": res.ear.profile,
    }
    if logged:
        out["log"] = logged
    if args.json:
        print(json.dumps(out))
    else:
        verdict = "ACCEPTED" if res.accepted else "NOT ACCEPTED"
        print(f"{verdict}: status {res.tier.label}, decision {decision}")
        print(f"appraisal {res.ear.appraisal_id}, issued at {res.ear.iat}")
        if logged:
            w = ", ".join(logged["witnesses"]) or "no known witness"
            print(
                f"logged: entry {logged['log_index']} of {logged['origin']} size "
                f"{logged['tree_size']}, cosigned by {w}"
            )
    return 0 if res.accepted else 3


def _logged(args: argparse.Namespace, token: Any) -> dict[str, Any] | int | None:
    """--proof: the log check (rp/tlog.py); an exit code when it fails."""
    from attest.note import NoteError
    from rp import tlog

    if not args.proof and not args.require_witness:
        return None
    try:
        if not args.proof or token.form in ("jwt", "cmw"):
            raise ValueError("--require-witness needs --proof FILE and the result as a bare CWT")
        log = (
            tlog.read_vkey(args.log_key)
            if args.log_key
            else tlog.fetch_log_vkey(args.verifier)
            if args.verifier
            else None
        )
        if log is None:
            raise ValueError("--proof needs --log-key VKEY (or --verifier URL)")
        required = [tlog.read_vkey(w) for w in args.require_witness]
    except (ValueError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    try:
        return tlog.check(token.data, args.proof, log, required)
    except NoteError as exc:
        out = {"valid": False, "code": exc.code, "message": exc.message}
        print(json.dumps(out) if args.json else f"INVALID {exc.code}: {exc.message}")
        return 1
    except OSError as exc:
        print(f"error: {exc}")
        return 2
