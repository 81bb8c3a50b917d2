"""Thousands of malformed and mutated bodies, tokens and requests: never a 5xx, never an
acceptance, never a worker crash (issue 16). The long run is benchmarks/verifier_fuzz.py."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from attest import cbor
from attest.ear import verify_ear_cwt, verify_ear_jwt
from attest.errors import AttestError
from attest.keys import b64url_decode
from tests.verifier.conftest import World
from tests.verifier.malformed import CHUNKED_BODIES, chunked_request, malformed_requests, send

pytestmark = [pytest.mark.xdist_group("verifier-sqlite"), pytest.mark.slow]
EVIDENCE_BODIES = 4500
JSON_BODIES = 700
RESULT_MUTATIONS = 3000
RAW_REQUESTS = 1200


def worker_pids(master: int) -> set[int]:
    """The gunicorn master's children (Linux /proc): a crashed worker is replaced by one
    with a new PID."""
    with open(f"/proc/{master}/task/{master}/children", encoding="ascii") as f:
        return {int(p) for p in f.read().split()}


def exchange(port: int, raw: bytes) -> bytes:
    """The whole answer to one raw request (the server closes: Connection: close)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def mutations(rng: random.Random, seeds: list[bytes], n: int) -> Iterator[bytes]:
    """Bit flips, byte edits, truncation, splicing, junk and well-formed non-evidence CBOR."""
    for i in range(n):
        base = bytearray(rng.choice(seeds))
        kind = i % 8
        if kind == 0:
            for _ in range(rng.randint(1, 4)):
                base[rng.randrange(len(base))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            base[rng.randrange(len(base))] = rng.randrange(256)
        elif kind == 2:
            del base[rng.randrange(1, len(base)) :]
        elif kind == 3:
            at = rng.randrange(len(base))
            base[at:at] = rng.randbytes(rng.randint(1, 40))
        elif kind == 4:
            a = rng.randrange(len(base))
            del base[a : a + rng.randint(1, 30)]
        elif kind == 5:
            other = rng.choice(seeds)
            cut = rng.randrange(1, min(len(base), len(other)))
            base = base[:cut] + other[cut:]
        elif kind == 6:
            base = bytearray(rng.randbytes(rng.randint(0, 600)))
        else:
            junk = [rng.randint(-(2**40), 2**40), rng.randbytes(16), "x" * rng.randint(0, 9)]
            shape = rng.choice(
                [junk, {1: junk}, cbor.Tag(18, junk), cbor.Tag(18, [b"", {}, b"", b""])]
            )
            base = bytearray(cbor.encode(shape))
        yield bytes(base)


def json_mutations(rng: random.Random, n: int) -> Iterator[bytes]:
    values: list[object] = [None, True, 0, -1, 2**70, 1.5, "", "A" * 300, [], {}, "====", "_-" * 22]
    keys = ["txn_hash", "document_commitment", "device_id", "cose_key", "jwk", "role", "label", "x"]
    for i in range(n):
        if i % 50 == 0:
            yield b"[" * rng.randint(900, 8000)  # nesting deeper than the parser's stack
            continue
        if i % 5 == 0:
            yield rng.randbytes(rng.randint(0, 100))
            continue
        doc = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 3))}
        text = json.dumps(doc).encode()
        if i % 5 == 1 and text:
            text = text[: rng.randrange(len(text))]
        yield text


def test_mutated_bodies_never_crash_or_pass(world: World) -> None:
    c = world.client
    rng = random.Random(20261123)
    seeds = [world.good() for _ in range(8)]
    before = c.http.get(f"{c.base}/v1/log/checkpoint", headers=c.h(world.auditor)).json()
    assert world.server.proc is not None
    workers = worker_pids(world.server.proc.pid)

    shared = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=4))

    def send_evidence(body: bytes) -> int:
        return shared.post(
            f"{c.base}/v1/attestations",
            content=body,
            headers={"Content-Type": "application/eat+cwt"},
        ).status_code

    bodies = [b for b in mutations(rng, seeds, EVIDENCE_BODIES) if b not in seeds]
    with shared, ThreadPoolExecutor(4) as pool:
        statuses: list[int] = list(pool.map(send_evidence, bodies))

    routes = [("POST", "/v1/challenges", world.rp), ("POST", "/v1/devices", c.admin)]
    routes += [("POST", "/v1/tokens", c.admin), ("POST", "/v1/devices/AAAA/rotate", c.admin)]
    for i, body in enumerate(json_mutations(rng, JSON_BODIES)):
        method, path, token = routes[i % len(routes)]
        r = c.http.request(
            method,
            f"{c.base}{path}",
            content=body,
            headers={**c.h(token), "Content-Type": "application/json"},
        )
        statuses.append(r.status_code)
        if path != "/v1/challenges":
            assert r.status_code >= 400, (path, body, r.text)

    assert len(statuses) >= 5000
    assert not [s for s in statuses if s >= 500]
    evidence_statuses = statuses[: len(bodies)]
    assert 201 not in evidence_statuses
    after = c.http.get(f"{c.base}/v1/log/checkpoint", headers=c.h(world.auditor)).json()
    assert after["tree_size"] == before["tree_size"]
    # The originals are still good: the fuzzing consumed no nonce.
    assert c.submit(seeds[0]).status_code == 201
    assert worker_pids(world.server.proc.pid) == workers, "a worker died"


def test_malformed_chunked_bodies_are_problem_documents(world: World) -> None:
    """Issue 16, finding 8: four of these seven broken chunked bodies (RFC 9112 section 7.1)
    were answered 500 with a trace in the log. Each is now a 400 problem document."""
    c = world.client
    port = world.server.port
    assert world.server.proc is not None
    workers = worker_pids(world.server.proc.pid)
    traces = world.server.log_text().count("Traceback")
    routes = [
        ("/v1/attestations", "application/eat+cwt", ""),
        ("/v1/challenges", "application/json", f"Authorization: Bearer {world.rp}\r\n"),
        ("/v1/devices", "application/json", f"Authorization: Bearer {c.admin}\r\n"),
        ("/console/login", "application/x-www-form-urlencoded", ""),
    ]
    for name, chunks in CHUNKED_BODIES.items():
        for path, ctype, auth in routes:
            answer = exchange(port, chunked_request(path, chunks, ctype, auth))
            status = int(answer.split(b" ", 2)[1])
            assert status == 400, (name, path, answer[:300])
            if b"application/problem+json" in answer:
                assert b'"code": "request.malformed"' in answer or b'"request.malformed"' in answer
    assert world.server.log_text().count("Traceback") == traces
    assert worker_pids(world.server.proc.pid) == workers


def test_mutated_results_and_raw_requests(world: World) -> None:
    """Mutated attestation results never verify (CWT and JWT, both profiles' parsers), and
    malformed raw requests never get a 5xx other than 503, nor crash a worker. The only
    5xx allowed is 501 for a transfer coding the server does not implement, the answer
    RFC 9112 section 6.1 prescribes (gunicorn sends it before the app sees the request)."""
    c = world.client
    r = c.submit(world.good())
    assert r.status_code == 201
    keys = c.keyset()
    cwt, jwt = b64url_decode(r.json()["ear"]["cwt"]), r.json()["ear"]["jwt"]
    rng = random.Random(20261206)
    accepted = 0
    for body in mutations(rng, [cwt], RESULT_MUTATIONS // 2):
        if body == cwt:
            continue
        try:
            verify_ear_cwt(body, keys, closed=False)
            accepted += 1
        except AttestError:
            pass
    jb = jwt.encode()
    for i in range(RESULT_MUTATIONS // 2):
        m = bytearray(jb)
        for _ in range(1 + i % 3):
            m[rng.randrange(len(m))] = rng.choice(b"ABCxyz019-_.=!")
        if bytes(m) == jb:
            continue
        try:
            verify_ear_jwt(m.decode("latin-1"), keys, closed=False)
            accepted += 1
        except AttestError:
            pass
    assert accepted == 0

    assert world.server.proc is not None
    master = world.server.proc.pid
    workers = worker_pids(master)
    statuses: dict[int, int] = {}
    bad: list[bytes] = []
    for raw in malformed_requests(rng, RAW_REQUESTS, c.admin):
        status = send(world.server.port, raw)
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500 and status != 503:
            head = raw.split(b"\r\n\r\n", 1)[0].lower()
            te = [ln for ln in head.split(b"\r\n") if ln.startswith(b"transfer-encoding:")]
            if not (status == 501 and te and te[0].split(b":", 1)[1].strip() != b"chunked"):
                bad.append(raw[:200])
    assert not bad, bad[:5]
    assert sum(statuses.values()) == RAW_REQUESTS
    assert worker_pids(master) == workers, "a worker died"
    assert c.http.get(f"{c.base}/healthz").status_code == 200
