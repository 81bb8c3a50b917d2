"""A verifier of our own per test (we tamper with its database), with a few logged results."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeproof_cli import main
from tests.verifier.conftest import World, make_world
from tests.verifier.helpers import VerifierServer, release

N_ENTRIES = 5


@dataclass
class Log:
    """A running verifier whose log holds `results` (the submit answers), and an auditor."""

    world: World
    results: list[dict[str, Any]]
    state: Path
    tmp: Path

    @property
    def server(self) -> VerifierServer:
        return self.world.server

    def add(self, n: int = 1) -> None:
        for _ in range(n):
            r = self.world.client.submit(self.world.good())
            assert r.status_code == 201, r.text
            self.results.append(r.json())

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.server.instance / "verifier.db", timeout=30)

    def audit(self, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
        """`edgeproof audit --json` in this process; (exit code, report)."""
        capsys.readouterr()
        code = main(
            [
                "audit",
                *("--verifier", self.server.base, "--token", self.world.auditor),
                *("--state", str(self.state), "--json"),
                *extra,
            ]
        )
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else {}

    def restart(self) -> None:
        self.server.stop()
        self.server.start()
        self.world.client.base = self.server.base


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    rel = release()
    # One worker: its in-memory tree is then the one every answer comes from, so tampering
    # under a running verifier shows the auditor exactly what the database now says.
    (tmp_path / "verifier").mkdir()
    server = VerifierServer(tmp_path / "verifier", rel.key, workers=1).start()
    try:
        lg = Log(make_world(server, rel), [], tmp_path / "auditor", tmp_path)
        lg.add(N_ENTRIES)
        yield lg
    finally:
        server.stop()


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["checks"]}
