"""Thousands of malformed and mutated bodies: never a 5xx, never an acceptance."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from attest import cbor
from tests.verifier.conftest import World

pytestmark = [pytest.mark.xdist_group("verifier-sqlite"), pytest.mark.slow]
EVIDENCE_BODIES = 4500
JSON_BODIES = 700


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
