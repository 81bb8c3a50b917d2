"""Malformed HTTP requests sent over a raw socket: what httpx would refuse to build.

Shared by tests/verifier/test_fuzz.py (a bounded run in CI) and benchmarks/verifier_fuzz.py
(the long run). Each request is bytes on the wire; `send` returns the status line's code,
or 0 when the server closed the connection without an answer (allowed for a request the
server cannot parse at all; what is never allowed is a 5xx other than 503).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

# RFC 9112 section 7.1: chunked transfer coding. Seven ways to get it wrong (issue 16,
# finding 8: four of these answered 500 before the fix).
CHUNKED_BODIES: dict[str, bytes] = {
    "size-not-hex": b"zz\r\nabc\r\n0\r\n\r\n",
    "size-negative": b"-5\r\nabcde\r\n0\r\n\r\n",
    "size-overflow": b"fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "data-missing-crlf": b"3\r\nabcXY0\r\n\r\n",
    "bad-extension": b"3;\x01=\x02\r\nabc\r\n0\r\n\r\n",
    "bare-lf": b"3\nabc\n0\n\n",
    "truncated": b"10\r\nabc",  # then the client half-closes
}


def chunked_request(path: str, body: bytes, content_type: str, extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Transfer-Encoding: chunked\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode("ascii") + body


def send(port: int, raw: bytes, timeout: float = 10.0, half_close: bool = True) -> int:
    """Send `raw`, read the answer's status code (0: closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while b"\r\n" not in data and len(data) < 4096:
                got = s.recv(4096)
                if not got:
                    break
                data += got
        except (ConnectionResetError, TimeoutError):
            return 0
    line = data.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return 0


PATHS = [
    ("/v1/attestations", "application/eat+cwt"),
    ("/v1/challenges", "application/json"),
    ("/v1/devices", "application/json"),
    ("/v1/tokens", "application/json"),
    ("/console/login", "application/x-www-form-urlencoded"),
]


def malformed_requests(rng: random.Random, n: int, token: str = "") -> Iterator[bytes]:
    """Chunked bodies broken every known way, mutated heads, smuggling shapes, junk."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    bodies = list(CHUNKED_BODIES.values())
    for i in range(n):
        path, ctype = PATHS[i % len(PATHS)]
        kind = i % 6
        if kind == 0:
            yield chunked_request(path, bodies[(i // 6) % len(bodies)], ctype, auth)
        elif kind == 1:  # a valid chunk framing around a mutated chunk size line
            size = rng.choice([b"3", b"03", b"3 ", b"0x3", b"3;a=b", b"+3", b"3\t", b"\xff"])
            yield chunked_request(path, size + b"\r\nabc\r\n0\r\n\r\n", ctype, auth)
        elif kind == 2:  # Content-Length and Transfer-Encoding together (RFC 9112 6.3)
            yield (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n{auth}"
                "Content-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            ).encode() + rng.choice(bodies)
        elif kind == 3:  # Content-Length that lies (shorter body, then half-close)
            body = rng.randbytes(rng.randint(0, 40))
            yield (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n{auth}"
                f"Content-Length: {len(body) + rng.randint(1, 500)}\r\nConnection: close\r\n\r\n"
            ).encode() + body
        elif kind == 4:  # mutated request head
            head = bytearray(chunked_request(path, b"0\r\n\r\n", ctype, auth))
            for _ in range(rng.randint(1, 3)):
                head[rng.randrange(len(head))] = rng.randrange(256)
            yield bytes(head)
        else:  # unknown codings, duplicate Transfer-Encoding, junk
            te = rng.choice(["gzip, chunked", "chunked, chunked", "identity", "x", "chunked\x0b"])
            yield (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n{auth}"
                f"Transfer-Encoding: {te}\r\nConnection: close\r\n\r\n"
            ).encode() + rng.choice(bodies)
