"""rig.witness: the demo's witness, and the `.tlog-proof` + `*.vkey` files kept by --out."""

from __future__ import annotations

from pathlib import Path

from attest.ear import decode_ear_unverified
from attest.keys import b64url_decode
from rig import witness as demo
from tests.verifier.conftest import make_world
from tests.verifier.helpers import VerifierServer, release
from tests.witness import c2sp_independent as c2sp


def test_demo_witness_cosigns_and_out_keeps_the_proof(tmp_path: Path) -> None:
    rel = release()
    (tmp_path / "v").mkdir()
    server = VerifierServer(tmp_path / "v", rel.key, workers=1)
    said: list[str] = []
    w = demo.start_for(tmp_path, server.instance, said.append)
    try:
        server.start()
        world = make_world(server, rel)
        r = world.client.submit(world.good())
        assert r.status_code == 201
        cwt = b64url_decode(r.json()["ear"]["cwt"])
        out = tmp_path / "out"
        out.mkdir()
        demo.keep_proof(w, out, "genuine", server.base, world.rp, cwt, said.append)
    finally:
        server.stop()
        w.stop()
    log_vkey = (out / "log.vkey").read_text().strip()
    w_vkey = (out / "witness.vkey").read_text().strip()
    proof = (out / "genuine.tlog-proof").read_text()
    assert c2sp.check_tlog_proof(proof, cwt, log_vkey, [w_vkey]).keys() == {demo.NAME}
    assert decode_ear_unverified(cwt).appraisal_id
    assert any("tlog-proof kept" in s for s in said)
