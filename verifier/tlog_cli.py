"""`edgeproof verifier log-vkey` and the log key made by `verifier init` (verifier/tlog.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from verifier.config import Config


def register(sub: Any, default_config: str) -> None:
    p = sub.add_parser(
        "log-vkey",
        help="print the log's note verifier key (C2SP signed-note vkey) and its witnesses'",
    )
    p.add_argument("--config", default=default_config)
    p.add_argument("--witnesses", action="store_true", help="also print the witnesses' vkeys")
    p.set_defaults(func=_vkey)


def make_log_key(config: Config) -> str:
    """The log's Ed25519 note key (0600, beside the result key); returns its vkey."""
    from verifier.tlog import load_log_key

    assert config.log_key is not None
    return load_log_key(config.log_key, config.log_origin).vkey


def _vkey(args: argparse.Namespace) -> int:
    from verifier.config import load_config
    from verifier.errors import VerifierError
    from verifier.tlog import WitnessSpec

    try:
        config = load_config(Path(args.config))
        print(make_log_key(config))
        if args.witnesses:
            for w in config.witnesses:
                print(WitnessSpec.parse(w).key.vkey)
    except VerifierError as exc:
        print(f"edgeproof verifier: {exc}", file=sys.stderr)
        return 2
    return 0
