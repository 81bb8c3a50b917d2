"""`edgeproof witness ...`: a transparency-log witness of its own (c2sp.org/tlog-witness).

  init    make a witness folder: cosigner key (0600), witness.toml with the logs' vkeys
  vkey    print the witness's verifier key (signed-note vkey, type 0x04)
  serve   run it (gunicorn, 127.0.0.1 by default)
  refusals  list the checkpoints it refused as inconsistent (evidence of a fork)

Exit codes: 0 done, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "witness",
        help="run a transparency-log witness (C2SP tlog-witness)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    w = p.add_subparsers(dest="witness_command", metavar="COMMAND", required=True)
    i = w.add_parser("init", help="create a witness folder, key and configuration")
    i.add_argument("--dir", required=True, help="the witness's folder")
    i.add_argument("--name", required=True, help="cosigner key name, e.g. witness.example/w1")
    i.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="VKEY",
        help="a log's verifier key (text or a .vkey file); repeatable",
    )
    i.set_defaults(func=_init)
    k = w.add_parser("vkey", help="print the witness's verifier key")
    k.add_argument("--dir", required=True)
    k.set_defaults(func=_vkey)
    s = w.add_parser("serve", help="serve add-checkpoint under gunicorn")
    s.add_argument("--dir", required=True)
    s.add_argument("--bind", default="127.0.0.1:8090")
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--threads", type=int, default=4)
    s.set_defaults(func=_serve)
    r = w.add_parser("refusals", help="list refused (inconsistent) checkpoints")
    r.add_argument("--dir", required=True)
    r.set_defaults(func=_refusals)


def _fail(msg: str) -> int:
    print(f"edgeproof witness: {msg}", file=sys.stderr)
    return 2


def read_vkey(arg: str) -> str:
    """A vkey given as text or as a file holding one (the `*.vkey` files the demo writes)."""
    p = Path(arg)
    if "+" not in arg or p.is_file():
        return p.read_text(encoding="utf-8").strip()
    return arg.strip()


def _init(args: argparse.Namespace) -> int:
    from witness.config import WitnessConfigError, init

    try:
        cfg, signer = init(Path(args.dir).resolve(), args.name, [read_vkey(v) for v in args.log])
    except (WitnessConfigError, OSError) as exc:
        return _fail(str(exc))
    print(f"witness folder: {cfg.root}")
    print(f"witness vkey:   {signer.vkey}")
    return 0


def _vkey(args: argparse.Namespace) -> int:
    from witness.config import WitnessConfigError, load

    try:
        print(load(Path(args.dir)).signer().vkey)
    except WitnessConfigError as exc:
        return _fail(str(exc))
    return 0


def _refusals(args: argparse.Namespace) -> int:
    from witness.config import WitnessConfigError, load
    from witness.store import Store

    try:
        cfg = load(Path(args.dir))
    except WitnessConfigError as exc:
        return _fail(str(exc))
    for at, status, reason, body in Store(cfg.db).refusals():
        print(f"--- received {at}, answered {status}: {reason}\n{body}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from witness.config import ENV_DIR, WitnessConfigError, load

    root = Path(args.dir).resolve()
    try:
        load(root).signer()
    except WitnessConfigError as exc:
        return _fail(str(exc))
    env = {**os.environ, ENV_DIR: str(root)}
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        args.bind,
        "--workers",
        str(max(1, args.workers)),
        "--worker-class",
        "gthread",
        "--threads",
        str(max(1, args.threads)),
        "--keep-alive",
        "30",  # tlog-witness: clients SHOULD use keep-alive
        "--access-logfile",
        "-",
        "witness.app:create_app_from_env()",
    ]
    os.execve(sys.executable, argv, env)  # noqa: S606 (our own interpreter, no shell)
    return 0  # pragma: no cover
