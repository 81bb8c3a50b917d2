"""`edgeproof` on a relying party's server: only the base install (cbor2, cryptography).

An import blocker stands in for the missing extras (numpy, Pillow, OpenCV, LiteRT, httpx,
Flask and the device code cannot be imported): `rp validate`, `attest inspect`, `--help`
and `--version` still run, and a group that needs a missing extra says so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.rig import REPO

BLOCKER = """
import importlib.abc, importlib.machinery, sys
BLOCKED = ("numpy", "PIL", "cv2", "ai_edge_litert", "httpx", "flask", "sqlalchemy", "edge")
class Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"No module named {spec.name!r}", name=spec.name)
    def exec_module(self, module):
        raise AssertionError("unreachable")
class Blocker(importlib.abc.MetaPathFinder):
    # Found (as files are), but importing fails: what a missing dependency does.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return importlib.machinery.ModuleSpec(name, Refuse())
        return None
sys.meta_path.insert(0, Blocker())
from edgeproof_cli import main
sys.exit(main(sys.argv[1:]))
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_rp_and_inspect_run_on_the_base_install(tmp_path: Path) -> None:
    token = tmp_path / "result.cbor"
    token.write_bytes(b"\xd2\x84\x40\xa0\x40\x40")
    keys = tmp_path / "keys.json"
    keys.write_text('{"keys": []}')
    r = run("rp", "validate", str(token), "--keys", str(keys), "--txn", "ab" * 32)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1 and r.stdout.startswith("INVALID "), r.stdout + r.stderr
    r = run("attest", "inspect", str(token))
    assert "Traceback" not in r.stderr and r.returncode == 1, r.stderr
    for args in (["--help"], ["--version"], ["rp", "validate", "--help"]):
        r = run(*args)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


def test_a_group_whose_extra_is_missing_says_so() -> None:
    r = run("face", "eval", "somewhere")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "pip install 'edgeproof[edge]'" in lines[0], r.stderr
