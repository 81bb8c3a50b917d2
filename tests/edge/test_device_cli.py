"""`edgeproof device run`, the operator console the device service runs, end to end:
real verifier under gunicorn (demo policy), passport emulator behind real pcscd, the
recorded clip as the camera, a software key, and the operator typing at a terminal (pty).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attest.keys import b64url
from edge.keystore.software import SoftwareKeyStore
from edge.measure import measure
from edge.mrtd.sim.card import EmulatedChip
from edge.mrtd.sim.pcscd import missing_parts, pcsc_rig
from edge.mrtd.sim.testdoc import DocOptions, generate
from tests.rig import require
from tests.shared import CLIP, STILL
from tests.verifier.helpers import Release, VerifierServer


def _read_until(fd: int, text: str, timeout: float) -> str:
    out = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"no {text!r} within {timeout} s; got:\n{out.decode(errors='replace')}"
            )
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out.decode(errors="replace")


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_operator_console_runs_a_session(tmp_path: Path) -> None:
    require(not missing_parts(), f"pcscd rig ({', '.join(missing_parts())})")
    from attest.keys import SigningKey
    from attest.manifest import sign_manifest

    # The release this installation is, signed; a verifier that trusts it (demo policy).
    release_key = SigningKey.generate()
    manifest = measure().manifest
    rel = Release(release_key, manifest, sign_manifest(manifest, release_key))
    (tmp_path / "v").mkdir()
    server = VerifierServer(tmp_path / "v", release_key, policy="demo", workers=1).start()
    try:
        admin = server.client()
        admin.add_release(rel)
        (tmp_path / "keys").mkdir(mode=0o700)
        store = SoftwareKeyStore.create(tmp_path / "keys" / "device.pem")
        body = {
            "device_id": "console-test",
            "cose_key": b64url(store.public_key().cose_key_bytes()),
        }
        assert (
            admin.http.post(
                f"{server.base}/v1/devices", json=body, headers=admin.h(admin.admin)
            ).status_code
            == 201
        )
        doc = generate(DocOptions(face_photo=str(STILL)))  # the clip's performer
        (tmp_path / "csca").mkdir()
        (tmp_path / "csca" / "csca.der").write_bytes(doc.csca_der)
        (tmp_path / "rp-token").write_text(admin.token("relying-party"))
        (tmp_path / "site.toml").write_text(
            "[site]\n"
            f'verifier_url = "{server.base}"\n'
            f'camera = "replay:{CLIP}"\n'
            f'trust = "{tmp_path / "csca"}"\n'
            f'token_file = "{tmp_path / "rp-token"}"\n'
        )
        env = {
            **os.environ,
            "EDGEPROOF_KEY": f"file:{tmp_path / 'keys' / 'device.pem'}",
            "EDGEPROOF_QUEUE": str(tmp_path / "queue"),
        }
        with pcsc_rig(tmp_path / "pcsc") as rig:
            rig.insert(EmulatedChip(doc))
            master, slave = pty.openpty()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "edgeproof_cli",
                    "device",
                    "run",
                    "--config",
                    str(tmp_path / "site.toml"),
                ],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                close_fds=True,
            )
            os.close(slave)
            try:
                _read_until(master, "MRZ key", 120)
                key = doc.mrz_key
                os.write(
                    master,
                    f"{key.document_number},{key.date_of_birth},{key.date_of_expiry}\n".encode(),
                )
                _read_until(master, "consented", 60)
                os.write(master, b"y\n")
                shown = _read_until(master, "MRZ key", 180)
                os.write(master, b"\n")
                assert proc.wait(timeout=30) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                os.close(master)
        assert "passive authentication passed" in shown, shown
        assert "affirming, decision match" in shown and "inclusion proof verified" in shown, shown
    finally:
        server.stop()
