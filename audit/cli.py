"""`edgeproof audit ...`: audit a verifier's log, or an exported copy of it.

Exit codes (stable, for scripts):
  0  every check passed (a changed key set is only a warning)
  1  an inconsistency: bad checkpoint signature, fork or rewind, missing or rewritten
     entries, an entry that does not verify, a privacy finding, a result not in the log
     (a verifier that answers a log request with an error fails that check: code 1)
  2  the audit could not start: bad arguments, key set not reachable, unreadable export,
     state folder or result file

The auditor token is read from --token or the EDGEPROOF_AUDITOR_TOKEN environment
variable; reports never contain it (their commands say "$EDGEPROOF_AUDITOR_TOKEN").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INCONSISTENT, EXIT_USAGE = 0, 1, 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="audit the verifier's log: checkpoints, consistency, entries, privacy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _source_args(p)
    p.add_argument("--state", metavar="DIR", help="the auditor's folder (keys, checkpoints)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--sample", type=int, metavar="N", help="check N random entries")
    which.add_argument("--entry", metavar="I[,J...]", help="check just these entries")
    which.add_argument(
        "--checkpoint-only", action="store_true", help="key set, checkpoint and consistency only"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    p.add_argument("--result", metavar="FILE", help="prove this result (EAR) is in the log")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--log-key", metavar="VKEY", help="the log's note vkey (default: trust on first use)"
    )
    p.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="'VKEY [URL]'",
        help="a witness whose cosignature and view to check (vkey text or file); repeatable",
    )
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.set_defaults(func=_audit)
    g = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    ex = g.add_parser("export", help="write the key set, checkpoint and all entries to a file")
    _source_args(ex, export=False)
    ex.add_argument("--out", required=True, metavar="FILE", help="export file (JSON)")
    ex.set_defaults(func=_export)


def _source_args(p: argparse.ArgumentParser, export: bool = True) -> None:
    p.add_argument("--verifier", metavar="URL", help="the verifier's base URL")
    p.add_argument("--token", metavar="TOKEN", help="auditor token (or EDGEPROOF_AUDITOR_TOKEN)")
    if export:
        p.add_argument("--export", metavar="FILE", help="audit an exported log instead")


def _fail(msg: str) -> int:
    print(f"edgeproof audit: {msg}", file=sys.stderr)
    return EXIT_USAGE


def _verifier(args: argparse.Namespace) -> Any:
    from audit.source import TOKEN_ENV, VerifierSource

    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise ValueError(f"give --token or set {TOKEN_ENV}")
    return VerifierSource(args.verifier, token)


def _export(args: argparse.Namespace) -> int:
    from audit.errors import AuditError
    from audit.source import export

    if not args.verifier:
        return _fail("export needs --verifier")
    try:
        src = _verifier(args)
        cp = export(src, Path(args.out))
    except (AuditError, ValueError, OSError) as exc:
        return _fail(str(exc))
    print(f"wrote {args.out}: {cp['tree_size']} entries, root {cp['root_hash']}")
    return EXIT_OK


def read_result(raw: bytes) -> tuple[bytes, int | None]:
    """A result file: raw CWT, base64url or hex text, or the verifier's JSON answer."""
    from attest.keys import b64url_decode

    if raw[:1] == b"\xd2":
        return raw, None
    text = raw.decode("ascii", "replace").strip()
    if text.startswith("{"):
        doc = json.loads(text)
        cwt = doc.get("ear", {}).get("cwt") if isinstance(doc, dict) else None
        if not isinstance(cwt, str):
            raise ValueError("JSON result has no ear.cwt")
        index = doc.get("log_index")
        return b64url_decode(cwt), index if isinstance(index, int) else None
    try:
        return bytes.fromhex(text), None
    except ValueError:
        return b64url_decode(text), None


def _audit(args: argparse.Namespace) -> int:
    from attest.errors import AttestError
    from audit.errors import AuditError
    from audit.run import Options, run_audit
    from audit.source import ExportSource
    from audit.state import StateDir

    if args.audit_command is None and not args.state:
        return _fail("give --state DIR (where checkpoints and the trusted key set are kept)")
    if bool(args.verifier) == bool(args.export):
        return _fail("give exactly one of --verifier URL or --export FILE")
    try:
        indices = tuple(int(i) for i in args.entry.split(",")) if args.entry else ()
        result, index, name = None, None, ""
        if args.result:
            name = args.result
            result, index = read_result(Path(args.result).read_bytes())
        source = ExportSource(Path(args.export)) if args.export else _verifier(args)
        opts = Options(
            sample=args.sample,
            seed=args.seed,
            indices=indices,
            checkpoint_only=args.checkpoint_only,
            result=result,
            result_name=name,
            result_index=index,
            **_tlog_options(args),
        )
        report = run_audit(source, StateDir(Path(args.state)), opts, int(time.time()))
    except (AuditError, AttestError, ValueError, OSError) as exc:
        return _fail(str(exc))
    print(report.dumps() if args.json else report.text(), end="" if not args.json else "\n")
    if args.html:
        Path(args.html).write_text(report.html())
    return EXIT_OK if report.ok else EXIT_INCONSISTENT


def _tlog_options(args: argparse.Namespace) -> dict[str, Any]:
    """The C2SP checks run against a live verifier (audit/tlog.py)."""
    from audit.tlog import TlogSource, WitnessArg

    if not args.verifier:
        return {}
    return {
        "tlog": TlogSource(args.verifier),
        "log_key": args.log_key,
        "witnesses": tuple(WitnessArg.parse(w) for w in args.witness),
    }
