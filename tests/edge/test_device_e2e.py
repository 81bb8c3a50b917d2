"""The device end to end against a real verifier under gunicorn (issue 7's tests).

- the demo: verifier, enrolment, emulated passports through real pcscd when installed,
  the animated subject answering the nonce's challenge through the synthetic camera, four
  sessions with their expected outcomes, results validated offline and inspected;
- the offline queue: the verifier goes down between challenge and submission, the signed
  evidence waits in the queue, and is accepted once the verifier is back.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from attest.keys import SigningKey
from edge.queue import EvidenceQueue
from edge.session import Challenge, VerifierUnreachableError
from edge.verifier_link import HttpVerifier, flush_queue
from tests.rig import require
from tests.verifier.helpers import Release, VerifierServer, evidence, release

EDGEPROOF = [sys.executable, "-m", "edgeproof_cli"]


@pytest.mark.xdist_group("pcscd")
def test_demo_runs_the_whole_mission(tmp_path: Path) -> None:
    from rig.mrtd.pcscd import missing_parts

    require(not missing_parts(), f"pcscd rig ({', '.join(missing_parts())})")
    out = tmp_path / "out"
    r = subprocess.run(
        [*EDGEPROOF, "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    text = r.stdout
    assert "behind real pcscd + vpcd, read with pyscard" in text
    assert text.count("inclusion proof verified") == 4
    assert "as expected: match" in text and "as expected: no match" in text
    assert text.count("as expected: liveness fails") == 2 and "NOT AS EXPECTED" not in text
    names = sorted(p.name for p in out.iterdir())
    assert "right-person.evidence.cbor" in names and "right-person.result.cbor" in names
    # An auditor's look at the evidence: well-formed, nothing outside the registry.
    ins = subprocess.run(
        [*EDGEPROOF, "attest", "inspect", str(out / "right-person.evidence.cbor")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ins.returncode == 0, ins.stdout + ins.stderr
    # The challenge came from the verifier's nonce (production policy), not a fixed demo one.
    assert "ACTIVE_NONCE" in ins.stdout.upper().replace("-", "_")
    assert "FIXED_DEMO" not in ins.stdout.upper().replace("-", "_")


def test_offline_queue_waits_for_the_verifier(tmp_path: Path) -> None:
    rel = release()
    (tmp_path / "v").mkdir()
    server = VerifierServer(tmp_path / "v", rel.key, workers=1).start()
    try:
        admin = server.client()
        rp = admin.token("relying-party")
        device = SigningKey.generate()
        admin.enrol(device)
        admin.add_release(rel)
        link = HttpVerifier(server.base, rp)
        challenge = link.challenge()
        server.stop()  # the office loses its connection
        token = _sign(challenge, rel, device)
        with pytest.raises(VerifierUnreachableError):
            link.submit(token)
        queue = EvidenceQueue(tmp_path / "queue")
        queue.put(token, cti=b"\x01" * 16, deadline=challenge.expires_at)
        stale = _sign(challenge, rel, device)
        queue.put(stale, cti=b"\x02" * 16, deadline=int(time.time()) - 1)  # already expired
        report = flush_queue(queue, server.base, now=int(time.time()))
        assert (report.sent, report.expired, report.remaining) == (0, 1, 1)
        server.start()  # back
        report = flush_queue(queue, server.base, now=int(time.time()))
        assert (report.sent, report.remaining) == (1, 0)
        cp = admin.http.get(f"{server.base}/v1/log/checkpoint", headers=admin.h(admin.admin))
        assert cp.json()["tree_size"] == 1
    finally:
        server.stop()


def _sign(challenge: Challenge, rel: Release, device: SigningKey) -> bytes:
    from attest.evidence import sign_evidence

    ev = evidence(challenge.nonce, challenge.gestures, rel)
    return sign_evidence(ev, device)
