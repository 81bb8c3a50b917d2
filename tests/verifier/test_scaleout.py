"""Two gunicorn replicas on one PostgreSQL, and crash recovery on both backends."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from attest import cose
from attest.ear import verify_ear_cwt, verify_ear_jwt
from attest.keys import b64url_decode
from attest.keyset import KeySet
from attest.merkle import verify_consistency
from tests.verifier.conftest import World, make_world
from tests.verifier.helpers import (
    PostgresCluster,
    VerifierServer,
    check_with_independent_libraries,
    release,
)
from verifier.auditlog import Checkpoint

pytestmark = [pytest.mark.rig, pytest.mark.slow, pytest.mark.xdist_group("verifier-pg")]


@pytest.fixture(scope="module")
def replicas(
    pg: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, VerifierServer]]:
    rel = release()
    root = tmp_path_factory.mktemp("verifier-pg")
    a = VerifierServer(root, rel.key, database_url=pg.new_database()).start()
    b = VerifierServer(root, rel.key, init=False)  # same configuration, same database
    b.admin = a.admin
    b.start()
    try:
        yield make_world(a, rel), b
    finally:
        a.stop()
        b.stop()


def checkpoint(w: World, base: str, keys: KeySet) -> Checkpoint:
    c = w.client
    doc = c.http.get(f"{base}/v1/log/checkpoint", headers=c.h(w.auditor)).json()
    return Checkpoint.decode(cose.verify_sign1(b64url_decode(doc["signed"]), keys).payload)


def keyset(w: World) -> KeySet:
    return KeySet.from_json(
        w.client.http.get(f"{w.client.base}/.well-known/edgeproof/keys.json").text
    )


def test_one_token_fifty_times_across_replicas(replicas: tuple[World, VerifierServer]) -> None:
    w, b = replicas
    token = w.good()
    bases = [w.client.base, b.base]
    gate = threading.Barrier(50)

    def send(i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as h:
            gate.wait()
            return h.post(
                f"{bases[i % 2]}/v1/attestations",
                content=token,
                headers={"Content-Type": "application/eat+cwt"},
            )

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(send, range(50)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 49, [r.text for r in results if r.status_code != 409]
    # A replay error: usually the nonce; when a replica read the nonce just before and the
    # cti just after the winner's commit, the cti check is the first to fail.
    codes = {r.json()["code"] for r in results if r.status_code == 409}
    assert codes <= {"nonce.replayed", "evidence.cti-replayed"}, codes


def test_two_hundred_distinct_tokens(replicas: tuple[World, VerifierServer]) -> None:
    w, b = replicas
    keys = keyset(w)
    start = checkpoint(w, w.client.base, keys)
    # Every other token answers a challenge bound to a transaction (its nonce made from it).
    txns = [hashlib.sha256(b"order %d" % i).digest() if i % 2 else None for i in range(200)]
    tokens = [w.good(txn) for txn in txns]
    bases = [w.client.base, b.base]
    shared = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=16))

    def send(i: int) -> httpx.Response:
        return shared.post(
            f"{bases[i % 2]}/v1/attestations",
            content=tokens[i],
            headers={"Content-Type": "application/eat+cwt"},
        )

    with shared, ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, range(200)))
    assert [r.status_code for r in results] == [201] * 200, [
        r.text for r in results if r.status_code != 201
    ][:3]
    end = checkpoint(w, b.base, keys)
    assert end.size == start.size + 200
    indices = sorted(r.json()["log_index"] for r in results)
    assert indices == list(range(start.size, start.size + 200))  # dense, no gaps, no doubles
    c = w.client
    keys_doc = c.http.get(f"{b.base}/.well-known/edgeproof/keys.json").json()
    for i, r in enumerate(results):
        body = r.json()
        cwt = b64url_decode(body["ear"]["cwt"])
        assert verify_ear_cwt(cwt, keys).txn_hash == txns[i]  # its decoding checks the nonce
        assert verify_ear_jwt(body["ear"]["jwt"], keys).txn_hash == txns[i]
        check_with_independent_libraries(keys_doc, cwt, body["ear"]["jwt"])
        c.check_included(w.auditor, cwt, body["log_index"], end.size, end.root, bases[i % 2])


def crash_and_recover(w: World, victim: VerifierServer, survivor_base: str | None) -> None:
    """SIGKILL `victim` under load; afterwards every acknowledged result is in the log."""
    keys = keyset(w)
    tokens = [w.good() for _ in range(300)]
    before = checkpoint(w, victim.base, keys)
    acked: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(offset: int) -> None:
        with httpx.Client(timeout=10) as h:
            for token in tokens[offset::4]:
                if stop.is_set():
                    return
                try:
                    r = h.post(
                        f"{victim.base}/v1/attestations",
                        content=token,
                        headers={"Content-Type": "application/eat+cwt"},
                    )
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                if r.status_code == 201:
                    with lock:
                        acked.append(r.json())

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 20

    victim.start(victim.port)  # the same address, as a supervisor would restart it
    after = checkpoint(w, survivor_base or victim.base, keys)
    assert after.size >= before.size + len(acked)
    proof = w.client.http.get(
        f"{victim.base}/v1/log/proof/consistency",
        params={"first": before.size, "second": after.size},
        headers=w.client.h(w.auditor),
    ).json()
    verify_consistency(
        before.size,
        after.size,
        [b64url_decode(p) for p in proof["consistency_proof"]],
        before.root,
        after.root,
    )
    logged: dict[str, bytes] = {}
    start = before.size
    while start < after.size:
        page = w.client.http.get(
            f"{victim.base}/v1/log/entries",
            params={"start": start, "limit": 1000},
            headers=w.client.h(w.auditor),
        ).json()
        for e in page["entries"]:
            logged[e["appraisal_id"]] = b64url_decode(e["data"])
        start = page["next"] or after.size
    for body in acked:
        assert logged[body["appraisal_id"]] == b64url_decode(body["ear"]["cwt"])


def test_crash_postgresql(replicas: tuple[World, VerifierServer]) -> None:
    w, b = replicas
    crash_and_recover(w, w.server, b.base)


def test_crash_sqlite(tmp_path: Path) -> None:
    rel = release()
    server = VerifierServer(tmp_path, rel.key).start()
    try:
        crash_and_recover(make_world(server, rel), server, None)
    finally:
        server.stop()
