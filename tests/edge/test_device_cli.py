"""`edgeproof device run`, the operator console the device service runs, end to end:
real verifier under gunicorn (demo policy), passport emulator behind real pcscd, the
recorded clip as the camera, a software key, and the operator typing at a terminal (pty).
The person's page (edge/screen/page.py) is polled meanwhile as the kiosk would.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from attest.keys import b64url
from edge.keystore.software import SoftwareKeyStore
from edge.measure import measure
from rig.mrtd.card import EmulatedChip
from rig.mrtd.pcscd import missing_parts, pcsc_rig
from rig.mrtd.testdoc import DocOptions, generate
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Kiosk(threading.Thread):
    """Polls the person's page state as the kiosk's page does (every 0.1 s here)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/state"
        self.raw: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    text = resp.read().decode()
                if not self.raw or self.raw[-1] != text:
                    self.raw.append(text)
            except OSError:
                pass
            time.sleep(0.05)

    def phases(self) -> list[str]:
        out: list[str] = []
        for text in self.raw:
            phase = json.loads(text)["phase"]
            if not out or out[-1] != phase:
                out.append(phase)
        return out


@dataclass
class _Site:
    """A verifier (demo policy) trusting this release, an enrolled software key, a
    passport of the clip's performer, and the files a site keeps."""

    server: VerifierServer
    doc: Any
    token: str
    env: dict[str, str]
    csca: Path

    @property
    def typed(self) -> str:
        key = self.doc.mrz_key
        return f"{key.document_number},{key.date_of_birth},{key.date_of_expiry}"

    def secrets(self) -> tuple[str, ...]:
        key = self.doc.mrz_key
        return (key.document_number, key.date_of_birth, self.typed)


@contextmanager
def _site(tmp_path: Path) -> Iterator[_Site]:
    require(not missing_parts(), f"pcscd rig ({', '.join(missing_parts())})")
    from attest.keys import SigningKey
    from attest.manifest import sign_manifest

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
        env = {
            **os.environ,
            "EDGEPROOF_KEY": f"file:{tmp_path / 'keys' / 'device.pem'}",
            "EDGEPROOF_QUEUE": str(tmp_path / "queue"),
        }
        yield _Site(server, doc, admin.token("relying-party"), env, tmp_path / "csca")
    finally:
        server.stop()


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_operator_console_runs_a_session(tmp_path: Path) -> None:
    with _site(tmp_path) as site:
        doc, server, env = site.doc, site.server, site.env
        port = _free_port()
        kiosk = _Kiosk(port)
        (tmp_path / "rp-token").write_text(site.token)
        (tmp_path / "site.toml").write_text(
            "[site]\n"
            f'verifier_url = "{server.base}"\n'
            f'camera = "replay:{CLIP}"\n'
            f'trust = "{site.csca}"\n'
            f'token_file = "{tmp_path / "rp-token"}"\n'
            f"screen_port = {port}\n"
        )
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
            kiosk.start()
            try:
                # Consent first; `fr` picks this session's language, nothing typed yet.
                _read_until(master, "Consented?", 120)
                os.write(master, b"fr\n")
                _read_until(master, "Consented?", 30)
                time.sleep(1.0)  # the clerk reads the consent text out; the page shows it
                os.write(master, b"y\n")
                _read_until(master, "typed unseen", 30)
                os.write(master, f"{site.typed}\n".encode())
                shown = _read_until(master, "Consented?", 180)
                time.sleep(0.5)  # the kiosk's last poll of the verdict
                os.write(master, b"\n")  # an empty line asks again: the service stays up
                rest = _read_until(master, "Consented?", 30)
                os.write(master, b"\x04")  # the terminal closes: non-zero, systemd restarts
                rest += _read_until(master, "terminal closed", 30)
                assert proc.wait(timeout=30) == 1
            finally:
                kiosk.stop.set()
                if proc.poll() is None:
                    proc.kill()
                os.close(master)
        # Nothing personal on the terminal (typed without echo) or on the person's page.
        for secret in site.secrets():
            assert secret not in shown + rest, secret
            assert not any(secret in text for text in kiosk.raw), secret
        assert "[verdict] VÉRIFIÉ" in shown, shown
        phases = kiosk.phases()
        order = [p for p in phases if p in ("consent", "passport", "prompt", "verdict")]
        assert order[:4] == ["consent", "passport", "prompt", "verdict"], phases
        prompts = [json.loads(t) for t in kiosk.raw if json.loads(t)["phase"] == "prompt"]
        assert any(p["deadline_ms"] and p["lang"] == "fr" for p in prompts), prompts
        verdicts = [json.loads(t) for t in kiosk.raw if json.loads(t)["phase"] == "verdict"]
        assert verdicts[-1]["verdict"] == "verified" and verdicts[-1]["title"] == "Vérifié"
        assert "passive authentication passed" in shown, shown
        assert "affirming, decision match" in shown and "inclusion proof verified" in shown, shown


def _verify(site: _Site, tmp_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "edgeproof_cli", "device", "verify",
        "--verifier", site.server.base, "--token", site.token, "--trust", str(site.csca),
        "--camera", f"replay:{CLIP}", "--queue", str(tmp_path / "queue"),
    ]  # fmt: skip


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_verify_asks_consent_before_the_mrz(tmp_path: Path) -> None:
    """`device verify` without --mrz: the consent question first; the person declines and
    no MRZ is asked, no chip read; then a second person consents and the MRZ key, typed
    unseen, opens the chip: an affirmed match (exit 0), the key never on the terminal."""
    with _site(tmp_path) as site, pcsc_rig(tmp_path / "pcsc") as rig:
        rig.insert(EmulatedChip(site.doc))
        outputs = []
        for answer in ("n", "y"):
            master, slave = pty.openpty()
            proc = subprocess.Popen(
                _verify(site, tmp_path), stdin=slave, stdout=slave, stderr=slave,
                env=site.env, close_fds=True,
            )  # fmt: skip
            os.close(slave)
            try:
                asked = _read_until(master, "consented to a biometric check?", 120)
                assert "MRZ" not in asked and "chip" not in asked, asked
                os.write(master, f"{answer}\n".encode())
                if answer == "y":
                    asked += _read_until(master, "typed unseen", 30)
                    os.write(master, f"{site.typed}\n".encode())
                out = asked + _read_until(master, "[verdict]", 180)
                assert proc.wait(timeout=60) == (1 if answer == "n" else 0), out
                out += _read_until(master, "\n", 5)
            finally:
                if proc.poll() is None:
                    proc.kill()
                os.close(master)
            outputs.append(out)
    declined, verified = outputs
    assert "typed unseen" not in declined and "session.no-consent" in declined, declined
    assert "[chip]" not in declined, declined
    assert "affirming, decision match" in verified, verified
    for secret in site.secrets():
        assert secret not in declined + verified, secret
