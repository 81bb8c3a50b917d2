"""`edgeproof rp ...`: what a relying party runs to check a result it was handed.

Exit codes (stable, for scripts):
  0  valid, affirming, faces matched, bound to the given transaction or nonce
  1  invalid: bad signature, unknown key, wrong transaction or nonce, expired, malformed
  2  usage error (bad arguments, unreadable files, verifier unreachable)
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
    v.set_defaults(func=_validate)


def _hex(value: str | None, what: str) -> bytes | None:
    if value is None:
        return None
    try:
        return binascii.unhexlify(value.strip())
    except (binascii.Error, ValueError):
        raise SystemExit(f"edgeproof rp validate: {what} must be hex") from None


def _validate(args: argparse.Namespace) -> int:
    from attest.ear import DECISION_NAMES
    from attest.errors import AttestError
    from attest.keyset import KeySet
    from attest.rp import validate_result
    from edgeproof_cli.tokenio import TokenInputError, read_source, read_token
    from rp.keyset_cache import fetch_keyset

    txn, nonce = _hex(args.txn, "--txn"), _hex(args.nonce, "--nonce")
    try:
        token = read_token(args.result)
        keys = (
            KeySet.from_json(read_source(args.keys)) if args.keys else fetch_keyset(args.verifier)
        )
    except (TokenInputError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    except AttestError as exc:
        print(f"error: key set: {exc.code}: {exc.message}")
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
    if args.json:
        print(json.dumps(out))
    else:
        verdict = "ACCEPTED" if res.accepted else "NOT ACCEPTED"
        print(f"{verdict}: status {res.tier.label}, decision {decision}")
        print(f"appraisal {res.ear.appraisal_id}, issued at {res.ear.iat}")
    return 0 if res.accepted else 3
