"""The verifier under gunicorn, two witnesses (`edgeproof witness serve`) and an auditor.

Everything produced (checkpoints, cosignatures, tlog-proofs, witness views) is also checked
by tests/witness/c2sp_independent.py, written from the C2SP text without the project's code.
The fork test rewrites the log's history in the database (as an insider could) and shows
that the witnesses refuse to cosign the new tree and that `edgeproof audit` reports a fork.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from attest.ear import decode_ear_unverified
from attest.keys import b64url_decode
from attest.merkle import leaf_hash
from attest.tlog import parse_entry_bundle
from edgeproof_cli import main
from tests.rig import wait_for
from tests.verifier.conftest import World, make_world
from tests.verifier.helpers import VerifierServer, release
from tests.witness import c2sp_independent as c2sp
from tests.witness.helpers import ORIGIN, WitnessProc, configure_witnesses, run_cli


@dataclass
class Rig:
    world: World
    log_vkey: str
    witnesses: list[WitnessProc]
    tmp: Path
    results: list[dict[str, object]]

    @property
    def server(self) -> VerifierServer:
        return self.world.server

    @property
    def wkeys(self) -> list[str]:
        return [w.vkey for w in self.witnesses]

    def add(self, n: int) -> None:
        for _ in range(n):
            r = self.world.client.submit(self.world.good())
            assert r.status_code == 201, r.text
            self.results.append(r.json())

    def checkpoint(self) -> str:
        r = httpx.get(f"{self.server.base}/log/checkpoint", timeout=5)
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        return r.text

    def wait_cosigned(self, size: int) -> str:
        seen: list[str] = []

        def done() -> bool:
            text = self.checkpoint()
            seen.append(text)
            signers = c2sp.check_note(text, [self.log_vkey, *self.wkeys])
            return c2sp.checkpoint(text)[1] == size and len(signers) == 3

        wait_for(done, 30, f"a checkpoint of size {size} cosigned by both witnesses")
        for text in seen:  # every checkpoint served on the way verifies independently
            assert ORIGIN in c2sp.check_note(text, [self.log_vkey, *self.wkeys])
        return seen[-1]

    def audit(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
        capsys.readouterr()
        args = ["audit", "--verifier", self.server.base, "--token", self.world.auditor]
        args += ["--state", str(self.tmp / "auditor"), "--json", "--log-key", self.log_vkey]
        for w in self.witnesses:
            args += ["--witness", f"{w.vkey} {w.url}"]
        code = main(args)
        return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rel = release()
    (tmp_path / "verifier").mkdir()
    server = VerifierServer(tmp_path / "verifier", rel.key, workers=2)
    log_vkey = re.search(r"log vkey:\s+(\S+)", server.init_output).group(1)  # type: ignore[union-attr]
    witnesses: list[WitnessProc] = []
    try:
        for i in (1, 2):
            witnesses.append(
                WitnessProc(tmp_path / f"w{i}", f"witness.test/w{i}", log_vkey).start()
            )
        configure_witnesses(server, witnesses, interval_ms=100)
        server.start()
        yield Rig(make_world(server, rel), log_vkey, witnesses, tmp_path, [])
    finally:
        server.stop()
        for w in witnesses:
            w.stop()


def test_witnessed_log_end_to_end(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    base = rig.server.base
    info = httpx.get(f"{base}/.well-known/edgeproof/keys.json").json()["tlog"]
    assert info["log_vkey"] == rig.log_vkey and info["origin"] == ORIGIN
    assert [w["vkey"] for w in info["witnesses"]] == rig.wkeys
    out = run_cli("verifier", "log-vkey", "--config", str(rig.server.config), "--witnesses")
    assert out.stdout.split() == [rig.log_vkey, *rig.wkeys]

    rig.add(5)
    text = rig.wait_cosigned(5)
    signers = c2sp.check_note(text, [rig.log_vkey, *rig.wkeys])
    assert set(signers) == {ORIGIN, "witness.test/w1", "witness.test/w2"}
    assert all(ts > 1_700_000_000 for name, ts in signers.items() if name != ORIGIN)
    # Each witness serves the checkpoint it cosigned (tlog-witness monitoring API).
    for w in rig.witnesses:
        assert w.name in c2sp.check_note(w.view(), [rig.log_vkey, w.vkey])

    # Every result's .tlog-proof verifies offline, with both witnesses' cosignatures.
    c = rig.world.client
    cwts = []
    for i, res in enumerate(rig.results):
        cwt = b64url_decode(res["ear"]["cwt"])  # type: ignore[index]
        cwts.append(cwt)
        url = base + str(res["tlog_proof_url"])
        r = c.http.get(url, headers=c.h(rig.world.rp))
        assert r.status_code == 200, r.text
        assert c2sp.check_tlog_proof(r.text, cwt, rig.log_vkey, rig.wkeys).keys() == {
            "witness.test/w1",
            "witness.test/w2",
        }
        assert r.text.startswith(f"c2sp.org/tlog-proof@v1\nindex {i}\n")
        # ...and in the JSON answer of GET /v1/attestations/<id>.
        doc = c.http.get(f"{base}/v1/attestations/{res['appraisal_id']}", headers=c.h(rig.world.rp))
        assert doc.json()["tlog_proof"] == r.text

    # `edgeproof rp validate --proof --require-witness`: offline, exit 0; a witness that
    # did not cosign: refused (exit 1).
    keys = rig.tmp / "keys.json"
    keys.write_text(httpx.get(f"{base}/.well-known/edgeproof/keys.json").text)
    (rig.tmp / "r0.cwt").write_bytes(cwts[0])
    (rig.tmp / "r0.tlog-proof").write_text(
        c.http.get(base + str(rig.results[0]["tlog_proof_url"]), headers=c.h(rig.world.rp)).text
    )
    (rig.tmp / "log.vkey").write_text(rig.log_vkey + "\n")
    nonce = decode_ear_unverified(cwts[0]).nonce.hex()
    args = ["rp", "validate", str(rig.tmp / "r0.cwt"), "--keys", str(keys), "--json"]
    args += ["--nonce", nonce]
    args += ["--proof", str(rig.tmp / "r0.tlog-proof"), "--log-key", str(rig.tmp / "log.vkey")]
    ok = run_cli(*args, "--require-witness", rig.wkeys[0], "--require-witness", rig.wkeys[1])
    assert ok.returncode == 0, ok.stdout
    assert json.loads(ok.stdout)["log"]["witnesses"] == ["witness.test/w1", "witness.test/w2"]
    # With --verifier, the log's vkey comes from the key set's `tlog` member.
    online = ["rp", "validate", str(rig.tmp / "r0.cwt"), "--verifier", base, "--nonce", nonce]
    online += ["--proof", str(rig.tmp / "r0.tlog-proof"), "--require-witness", rig.wkeys[1]]
    assert run_cli(*online).returncode == 0
    stranger = WitnessProc(rig.tmp / "w3", "witness.test/w3", rig.log_vkey)
    bad = run_cli(*args, "--require-witness", stranger.vkey)
    assert bad.returncode == 1 and "tlog-proof.missing-cosignature" in bad.stdout
    other = run_cli(*args[:-2], "--log-key", stranger.vkey)
    assert other.returncode == 1 and "note.unverified" in other.stdout  # not the log's key
    wrong = rig.tmp / "r1.cwt"
    wrong.write_bytes(cwts[1])
    args[2] = str(wrong)
    args[args.index("--nonce") + 1] = decode_ear_unverified(cwts[1]).nonce.hex()
    off = run_cli(*args)
    assert off.returncode == 1 and "tlog-proof.not-included" in off.stdout  # another result's

    # Tiles: the level-0 partial tile holds the leaf hashes; entry bundles the results.
    r = httpx.get(f"{base}/log/tile/0/000.p/5")
    assert r.status_code == 200 and r.content == b"".join(leaf_hash(x) for x in cwts)
    assert "max-age=3600" in r.headers["cache-control"]
    assert httpx.get(f"{base}/log/tile/0/000.p/6").status_code == 404
    assert httpx.get(f"{base}/log/tile/0/000").status_code == 404  # not full yet
    assert httpx.get(f"{base}/log/tile/entries/000.p/5").status_code == 401
    r = c.http.get(f"{base}/log/tile/entries/000.p/5", headers=c.h(rig.world.auditor))
    assert r.status_code == 200 and parse_entry_bundle(r.content) == cwts

    code, rep = rig.audit(capsys)
    verdicts = {ch["id"]: ch["verdict"] for ch in rep["checks"]}  # type: ignore[attr-defined]
    assert code == 0, rep
    assert verdicts["tlog-checkpoint"] == "pass" and verdicts["tlog-fork"] == "pass"


def test_forked_log_is_caught(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    rig.add(4)
    witnessed = rig.wait_cosigned(4)
    assert rig.audit(capsys)[0] == 0
    # An insider rewrites entry 0 and restarts the verifier: its tree of size 4 now has
    # another root, and the log key signs it.
    rig.server.stop()
    db = sqlite3.connect(rig.server.instance / "verifier.db")
    with db:
        (data,) = db.execute("SELECT data FROM log_entries WHERE idx = 0").fetchone()
        forged = bytes(data[:-1]) + bytes([data[-1] ^ 1])
        db.execute(
            "UPDATE log_entries SET data = ?, leaf_hash = ? WHERE idx = 0",
            (forged, leaf_hash(forged)),
        )
    db.close()
    rig.server.start()
    rig.world.client.base = rig.server.base

    # The witnesses refuse it (422) and keep the forked checkpoint as evidence.
    def refused() -> bool:
        out = run_cli("witness", "refusals", "--dir", str(rig.witnesses[0].root))
        return "answered 422" in out.stdout

    wait_for(refused, 30, "the witness to refuse the forked checkpoint")
    out = run_cli("witness", "refusals", "--dir", str(rig.witnesses[0].root)).stdout
    evidence = out.split("\n\n", 1)[1]  # the request: old size, proof, then the checkpoint
    forked = evidence[evidence.index(ORIGIN) :]
    forked = forked.split("\n---", 1)[0].rstrip("\n") + "\n"
    # Two different checkpoints of one size, both signed by the log: a fork, on record.
    a, b = c2sp.checkpoint(witnessed), c2sp.checkpoint(forked)
    assert a[1] == b[1] == 4 and a[2] != b[2]
    assert ORIGIN in c2sp.check_note(forked, [rig.log_vkey])
    # The witnesses' view did not move.
    for w in rig.witnesses:
        assert c2sp.checkpoint(w.view())[2] == a[2]
    # The log's checkpoint now carries no cosignature, even as it grows.
    rig.add(1)
    time.sleep(0.5)
    assert c2sp.check_note(rig.checkpoint(), [rig.log_vkey, *rig.wkeys]).keys() == {ORIGIN}

    code, rep = rig.audit(capsys)
    checks = {ch["id"]: ch for ch in rep["checks"]}  # type: ignore[attr-defined]
    assert code == 1
    assert checks["tlog-fork"]["verdict"] == "fail"
    assert checks["tlog-fork"]["code"] == "audit.fork"
    assert "witness witness.test/w1" in checks["tlog-fork"]["detail"]
    assert checks["tlog-checkpoint"]["code"] == "audit.not-witnessed"
    # The report names the root the witness cosigned, which this tree does not extend.
    assert a[2].hex() in checks["tlog-fork"]["detail"]  # hashes hex (issue 19)
