"""Every file of tests/vectors/edgeproof-v1 gives the answer its name says (one test).

good/*.cbor are accepted; bad/<reason-code>[+variant].cbor are refused, and the first
failing check reports that reason code. Each is appraised by the verifier's pure appraisal
against context.json, with the records looked up the way the verifier does (by the kid and
nonce the one parse reads). The generator must reproduce every file byte for byte.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from attest.challenge import Gesture
from attest.evidence import LivenessMethod
from attest.keys import PublicKey
from tests.rig import REPO
from verifier.appraisal import DeviceRecord, NonceRecord, ReferenceValues, appraise, read
from verifier.policy import Policy

VECTORS = REPO / "tests" / "vectors" / "edgeproof-v1"
FILES = sorted((VECTORS / "good").glob("*.cbor")) + sorted((VECTORS / "bad").glob("*.cbor"))


def expected_code(path: Path) -> str | None:
    """None for good files; else the reason code the file is named by."""
    return None if path.parent.name == "good" else path.stem.split("+", 1)[0]


def _context() -> dict[str, Any]:
    ctx: dict[str, Any] = json.loads((VECTORS / "context.json").read_text())
    return ctx


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_vector(path: Path) -> None:
    ctx = _context()
    token = path.read_bytes()
    sub = read(token)  # the one parse; the records are found by what it read
    seen = sub.peek
    devices = {
        bytes.fromhex(d["kid"]): PublicKey.from_cose_key((VECTORS / d["cose_key"]).read_bytes())
        for d in ctx["devices"]
    }
    device = None
    if seen.kid in devices:
        device = DeviceRecord(seen.kid, devices[seen.kid], seen.kid.hex()[:8])
    n = ctx["nonce"]
    nonce = None
    if seen.nonce == bytes.fromhex(n["nonce"]):
        nonce = NonceRecord(
            seen.nonce,
            n["issued_at"],
            n["expires_at"],
            n["consumed"],
            LivenessMethod(n["liveness_method"]),
            tuple(Gesture(g) for g in n["challenge"]),
        )
    refs = ReferenceValues(
        {
            bytes.fromhex(rel): frozenset(bytes.fromhex(m) for m in models)
            for rel, models in ctx["references"].items()
        }
    )
    p = ctx["policy"]
    policy = Policy(
        p["id"],
        LivenessMethod(p["liveness_method"]),
        p["clock_skew_s"],
        p["reject_expired_document"],
    )
    result = appraise(sub, device, nonce, refs, policy, ctx["now"], cti_seen=ctx["cti_seen"])
    failures = [c.to_json() for c in result.failures]
    code = expected_code(path)
    if code is None:
        assert result.accepted and not failures, failures
    else:
        # The first failing check, in the appraisal's order, reports the file's code (a
        # demo-method token also fails the challenge check after it: one cause, two checks).
        assert not result.accepted and failures[0]["code"] == code, failures


def test_every_bad_file_names_a_reason_and_the_generator_reproduces_them() -> None:
    from verifier.errors import REASONS

    assert len(FILES) >= 20
    for path in FILES:
        code = expected_code(path)
        assert code is None or code in REASONS, path.name
    done = subprocess.run(
        [sys.executable, str(VECTORS / "make.py"), "--check"],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
