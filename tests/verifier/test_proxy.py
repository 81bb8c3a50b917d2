"""The verifier behind Debian's nginx (verifier/deploy/nginx.conf.in, issue 16, finding 9).

Forty clients that send headers and half a body hold gunicorn's workers when they talk to
it directly; behind nginx, which buffers bodies with timeouts, /healthz keeps answering.
The test shows both: without the proxy a 2 s /healthz request times out, with it each
/healthz request completes inside a 1 s client timeout. Servers bind 127.0.0.1 on free
ports and are stopped by PID. benchmarks/proxy_slow_clients.py measures the latency.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from attest.keys import SigningKey
from tests.rig import free_port, require
from tests.verifier.helpers import VerifierServer
from tests.verifier.malformed import CHUNKED_BODIES, chunked_request, send
from verifier.proxy import NginxProxy, nginx_binary, render_nginx_config

SLOW_CLIENTS = 40


@contextmanager
def slow_clients(port: int, n: int = SLOW_CLIENTS) -> Iterator[list[socket.socket]]:
    """n connections, each with its headers and half of a 10 kB body sent, then silent."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(
                b"POST /v1/attestations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/eat+cwt\r\nContent-Length: 10000\r\n\r\n" + b"x" * 5000
            )
            socks.append(s)
        yield socks
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VerifierServer, str]]:
    require(nginx_binary() is not None, "Debian's nginx (scripts/apt-packages.txt)")
    root = tmp_path_factory.mktemp("proxied")
    server = VerifierServer(root, SigningKey.generate(), workers=2, threads=4).start()
    proxy = NginxProxy(root / "nginx", f"127.0.0.1:{free_port()}", f"127.0.0.1:{server.port}")
    try:
        proxy.start()
        yield server, f"http://{proxy.listen}"
    finally:
        proxy.stop()
        server.stop()


def test_config_renders_and_refuses_bad_holes(tmp_path: Path) -> None:
    text = render_nginx_config("127.0.0.1:8080", "127.0.0.1:8000", tmp_path)
    assert "listen 127.0.0.1:8080;" in text and "server 127.0.0.1:8000;" in text
    assert "@" not in text.replace("$", "")  # every hole filled
    for directive in ("client_body_timeout 5s;", "client_max_body_size 300k;"):
        assert directive in text
    for bad in ("8080", "127.0.0.1:80; evil", "host:port"):
        with pytest.raises(ValueError):
            render_nginx_config(bad, "127.0.0.1:8000", tmp_path)


def test_slow_clients_hold_gunicorn_but_not_the_proxy(
    proxied: tuple[VerifierServer, str],
) -> None:
    server, proxy_url = proxied
    assert httpx.get(f"{proxy_url}/healthz", timeout=5).json() == {"status": "ok"}
    # Directly: 40 half-sent bodies take all 2 x 4 worker threads, /healthz waits.
    with slow_clients(server.port), pytest.raises(httpx.TimeoutException):
        httpx.get(f"{server.base}/healthz", timeout=2)
    # Behind nginx: the bodies wait in nginx; every /healthz answers within 1 s.
    with slow_clients(int(proxy_url.rsplit(":", 1)[1])):
        for _ in range(10):
            r = httpx.get(f"{proxy_url}/healthz", timeout=1)
            assert r.status_code == 200
    # The proxy still serves the API: a bad body is the app's problem document.
    r = httpx.post(
        f"{proxy_url}/v1/attestations",
        content=b"\xa0",
        headers={"Content-Type": "application/eat+cwt"},
        timeout=5,
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


def test_proxy_limits_body_size_and_bad_chunking(proxied: tuple[VerifierServer, str]) -> None:
    _, proxy_url = proxied
    r = httpx.post(
        f"{proxy_url}/v1/reference-values",
        content=b"x" * (301 * 1024),
        headers={"Content-Type": "application/cose"},
        timeout=5,
    )
    assert r.status_code == 413

    # nginx answers 400 to a framing it can tell is broken; for the rest it is still
    # waiting for the body when the client hangs up, and closes without an answer (0).
    port = int(proxy_url.rsplit(":", 1)[1])
    statuses = {
        name: send(port, chunked_request("/v1/attestations", body, "application/eat+cwt"))
        for name, body in CHUNKED_BODIES.items()
    }
    assert all(s == 0 or 400 <= s < 500 for s in statuses.values()), statuses
    assert statuses["size-not-hex"] == statuses["data-missing-crlf"] == 400
