"""`verifier serve` refuses an address that another server holds (gunicorn binds with
SO_REUSEPORT, so without this check a second verifier would start on the same port and the
two would answer in turn, each with its own log root)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx

from attest.keys import SigningKey
from tests.verifier.helpers import EDGEPROOF, VerifierServer


def _server(root: Path) -> VerifierServer:
    root.mkdir()
    return VerifierServer(root, SigningKey.generate(), workers=1)


def _serve(server: VerifierServer, bind: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EDGEPROOF, "verifier", "serve", "--config", str(server.config), "--bind", bind],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_verifier_on_the_same_address_is_refused(tmp_path: Path) -> None:
    first = _server(tmp_path / "a").start()
    try:
        root = httpx.get(f"{first.base}/v1/log/checkpoint", timeout=5).status_code
        second = _server(tmp_path / "b")
        out = _serve(second, f"127.0.0.1:{first.port}")
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip().splitlines() == [
            f"edgeproof verifier: 127.0.0.1:{first.port} is already in use (another verifier?);"
            " stop it or pick --bind"
        ]
        assert httpx.get(f"{first.base}/v1/log/checkpoint", timeout=5).status_code == root
    finally:
        first.stop()


def test_a_port_held_by_any_listener_is_refused(tmp_path: Path) -> None:
    server = _server(tmp_path / "v")
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        out = _serve(server, f"127.0.0.1:{other.getsockname()[1]}")
    assert out.returncode == 2 and "already in use" in out.stderr
    bad = _serve(server, "localhost")
    assert bad.returncode == 2 and "is not HOST:PORT" in bad.stderr
