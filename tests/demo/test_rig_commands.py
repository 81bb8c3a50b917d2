"""The rig's passport commands: `edgeproof passport emulate` and `make-doc` keep their names
(rig/mrtd/cli.py, added by edgeproof_cli/passport_cmd.py), and an install without the rig
still has the reader's commands."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

from edgeproof_cli import build_parser


def _actions(parser: argparse.ArgumentParser) -> set[str]:
    passport = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ).choices["passport"]
    sub = next(a for a in passport._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_the_passport_group_has_the_rig_commands() -> None:
    assert _actions(build_parser("passport")) == {"read", "check", "trust", "emulate", "make-doc"}
    args = build_parser("passport").parse_args(["passport", "emulate", "--doc", "d", "--pace-only"])
    assert args.pace_only and args.port == 35963 and args.func.__module__ == "rig.mrtd.cli"


def test_without_the_rig_the_reader_commands_remain(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *a: object) -> object:
        return None if name == "rig" else real(name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert _actions(build_parser("passport")) == {"read", "check", "trust"}
