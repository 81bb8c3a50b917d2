"""The API paths are defined once (attest/paths.py) and mean what the server serves.

The literals below pin the wire: a client built against the documented paths keeps
working only if these do not move. The url_map and OpenAPI checks hold the server to the
constants, and the source scan holds every production client to them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from attest import paths
from attest.keys import SigningKey
from tests.rig import REPO
from verifier.app import create_app
from verifier.config import parse_config
from verifier.openapi import openapi
from witness import config as wconfig
from witness.app import create_app as create_witness_app

#: Where a path literal may be spelled in production code: the definitions themselves.
DEFINED_IN = "attest/paths.py"
CLIENTS = (
    "attest",
    "verifier",
    "edge",
    "audit",
    "rp",
    "witness",
    "edgeproof_cli",
    "firmware",
    "rig",
)
#: Every client, the rig and the demo included, spells paths through attest/paths.py.
NOT_CHECKED: set[str] = set()


def _rules(app: object) -> set[str]:
    return {
        r.rule
        for r in app.url_map.iter_rules()  # type: ignore[attr-defined]
        if r.endpoint != "static" and not r.rule.startswith("/console")
    }


def _constants() -> set[str]:
    return {
        v
        for k, v in vars(paths).items()
        if k.isupper() and isinstance(v, str) and v.startswith("/") and k != "V1"
    }


def test_the_wire_is_pinned() -> None:
    assert paths.CHALLENGES == "/v1/challenges"
    assert paths.ATTESTATIONS == "/v1/attestations"
    assert paths.attestation("ab12") == "/v1/attestations/ab12"
    assert paths.tlog_proof("ab12") == "/v1/attestations/ab12/tlog-proof"
    assert paths.device("a-b_c") == "/v1/devices/a-b_c"
    assert paths.device_rotate("k") == "/v1/devices/k/rotate"
    assert paths.token(7) == "/v1/tokens/7"
    assert paths.REFERENCE_VALUES == "/v1/reference-values"
    assert paths.LOG_CHECKPOINT == "/v1/log/checkpoint"
    assert paths.LOG_INCLUSION == "/v1/log/proof/inclusion"
    assert paths.log_consistency(1, 2) == "/v1/log/proof/consistency?first=1&second=2"
    assert paths.log_entries(0, 1000) == "/v1/log/entries?start=0&limit=1000"
    assert paths.KEYSET == "/.well-known/edgeproof/keys.json"
    assert paths.TLOG_CHECKPOINT == "/log/checkpoint"
    assert paths.WITNESS_ADD_CHECKPOINT == "/add-checkpoint"
    assert paths.openapi_path("/v1/tokens/<int:token_id>") == "/v1/tokens/{token_id}"
    assert paths.openapi_path(paths.TLOG_TILE_RULE) == "/log/tile/{level}/{rest}"


def test_flask_routes_and_openapi_are_the_constants(tmp_path: Path) -> None:
    (tmp_path / "result-key.pem").write_bytes(SigningKey.generate().private_pem())
    app = create_app(parse_config({"instance_path": str(tmp_path)}))
    served = _rules(app)
    witness_rules = {paths.WITNESS_ADD_CHECKPOINT, paths.WITNESS_CHECKPOINT_RULE}
    verifier_constants = _constants() - witness_rules - {paths.TLOG_TILES}
    assert served == verifier_constants
    documented = {p for p in openapi()["paths"] if not p.startswith("/console")}
    assert documented == {paths.openapi_path(r) for r in served}
    app.extensions["verifier"].engine.dispose()

    cfg, _ = wconfig.init(tmp_path / "witness", "w.example", [])
    assert _rules(create_witness_app(cfg)) == witness_rules | {paths.HEALTHZ}


def _path_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that look like one of the served paths; docstrings left out."""
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    prefixes = re.compile(r"/(v1/|\.well-known/edgeproof|log/(checkpoint|tile)|add-checkpoint)")
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and id(n) not in docstrings
        and prefixes.search(n.value)
    ]


def test_production_code_spells_no_path_but_through_attest_paths() -> None:
    found = []
    for pkg in CLIENTS:
        for f in sorted((REPO / pkg).rglob("*.py")):
            rel = f.relative_to(REPO).as_posix()
            if rel == DEFINED_IN or rel in NOT_CHECKED:
                continue
            found += [f"{rel}:{n}: {s!r}" for n, s in _path_literals(ast.parse(f.read_text()))]
    assert not found, "use attest/paths.py:\n" + "\n".join(found)


def test_the_scan_finds_a_planted_literal() -> None:
    code = '"""GET /v1/attestations is described here."""\nURL = f"{base}/v1/devices/{kid}"\n'
    assert [n for n, _ in _path_literals(ast.parse(code))] == [2]
