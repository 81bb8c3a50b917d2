"""The `edgeproof` command: one entry point, one subcommand group per package.

The groups live next to the code they drive (`verifier/cli.py`, `edge/mrtd/cli.py`, ...);
this module only collects them. `attest` is pure and does no I/O, so its command-line glue
(`edgeproof attest ...`) lives here in `edgeproof_cli/attest_cmd.py` instead.

Each group module exposes `register(subparsers)`, which adds its parser and sets a `func`
default taking the parsed namespace and returning an exit code. Group modules import
their heavy dependencies inside the handlers, so `edgeproof --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (module, what it adds). Order is the order shown in --help.
GROUPS: tuple[str, ...] = (
    "edgeproof_cli.demo",
    "edgeproof_cli.attest_cmd",
    "edge.mrtd.cli",
    "verifier.cli",
    "rp.cli",
    "audit.cli",
    "witness.cli",
    "edge.liveness.cli",
    "edge.face.cli",
    "edge.keystore.cli",
    "firmware.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeproof",
        description="Privacy-first identity verification at the edge.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in GROUPS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
