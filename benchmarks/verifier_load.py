"""Verifier throughput under load: valid evidence from N concurrent clients, /healthz as baseline.

Starts the real server (`edgeproof verifier init` + `serve`, gunicorn on 127.0.0.1) on SQLite
and, when Debian's PostgreSQL is installed, on a throwaway PostgreSQL cluster. Devices and
nonces are created before the clock starts; then N clients (keep-alive HTTP/1.1, one
connection each, each sending its next request when the previous answer is complete) submit
distinct valid tokens until --seconds pass or the tokens run out. The same clients then hit
/healthz for the same time: `ratio_to_healthz` is the appraisal rate over that baseline.
Finally the log is checked to hold every acceptance.

The clients are driven from one process by an event loop over their sockets, as wrk or
h2load do: client and server share the machine's two cores, and a client process per
connection (http.client) cost the server about a third of the CPU. The client's own CPU
per request and the server's (its whole process group) are printed, so the split is seen.

Goals (issue 3, this 2-core machine, 16 clients): >= 800/s SQLite, >= 500/s PostgreSQL,
p99 <= 50 ms, zero errors.

Witnessing (issue 16, `--witnessing both`, the default, SQLite): the same load again with
two witnesses (`edgeproof witness serve`) cosigning every checkpoint (once a second, the
default interval), so `witnessed_ratio` is the appraisal rate with witnessing over the rate
without (goal: a drop of at most 10 %). Then a witness's cosigning latency alone: a
sequence of add-checkpoint requests, each a few leaves larger with its consistency proof
(goal: p99 <= 20 ms).

    .venv/bin/python benchmarks/verifier_load.py --seconds 10
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.keys import SigningKey
from rig.postgres import PostgresCluster, pg_binary
from rig.verifier import Release, VerifierServer, release
from rig.witness import WitnessProc, configure_witnesses

GOALS = {"sqlite": 800.0, "postgresql": 500.0}
P99_GOAL_MS = 50.0


def _request(path: str, body: bytes | None) -> bytes:
    if body is None:
        return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/eat+cwt\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _complete(buf: bytearray) -> int:
    """The status of the complete response in `buf`, or 0 while it is still arriving."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    head = bytes(buf[:end]).lower()
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError("response without Content-Length: " + head[:200].decode())
    length = int(head[at + 17 :].split(b"\r\n", 1)[0])
    if len(buf) < end + 4 + length:
        return 0
    if len(buf) > end + 4 + length:
        raise RuntimeError("more bytes than one response: the server pipelined?")
    return int(buf[9:12])


@dataclass
class Load:
    elapsed: float
    latencies: list[float]
    statuses: dict[int, int]
    client_cpu_s: float
    server_cpu_s: float


def _drive(port: int, per_client: list[list[bytes]], path: str, seconds: float, pgid: int) -> Load:
    """Each client sends its requests one after the other; all clients at once."""
    sel = selectors.DefaultSelector()
    conns: dict[socket.socket, tuple[Iterator[bytes], bytearray, list[float]]] = {}
    for bodies in per_client:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        reqs = (_request(path, b) for b in bodies) if bodies else repeat(_request(path, None))
        conns[sock] = (iter(reqs), bytearray(), [0.0])
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    cpu0, server0 = time.process_time(), _group_cpu(pgid)
    t0 = time.monotonic()
    deadline = t0 + seconds

    def send_next(sock: socket.socket) -> bool:
        reqs, buf, started = conns[sock]
        req = next(reqs, None) if time.monotonic() < deadline else None
        if req is None:
            return False
        buf.clear()
        started[0] = time.perf_counter()
        sock.sendall(req)  # small requests: the socket buffer takes them whole
        return True

    for sock in list(conns):
        if send_next(sock):
            sel.register(sock, selectors.EVENT_READ)
    open_ = len(sel.get_map())
    while open_:
        for key, _ in sel.select(timeout=30):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            _, buf, started = conns[conn]
            chunk = conn.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed a keep-alive connection")
            buf += chunk
            status = _complete(buf)
            if not status:
                continue
            latencies.append(time.perf_counter() - started[0])
            statuses[status] = statuses.get(status, 0) + 1
            if not send_next(conn):
                sel.unregister(conn)
                open_ -= 1
    elapsed = time.monotonic() - t0
    load = Load(
        elapsed,
        latencies,
        statuses,
        time.process_time() - cpu0,
        _group_cpu(pgid) - server0,
    )
    for sock in conns:
        sock.close()
    return load


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the processes of one process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended
        if int(fields[2]) == pgid:  # proc(5): field 5 pgrp, 14 utime, 15 stime
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run(
    backend: str, server: VerifierServer, rel: Release, clients: int, seconds: float, cap: int
) -> str:
    c = server.client()
    c.add_release(rel)
    rp = c.token("relying-party")
    auditor = c.token("auditor")
    devices = [SigningKey.generate() for _ in range(4)]
    for i, d in enumerate(devices):
        c.enrol(d, f"bench-{i}")
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda i: c.good_token(rp, devices[i % 4], rel), range(cap)))
    print(f"[{backend}] prepared {len(tokens)} challenges + tokens in {time.monotonic() - t0:.1f}s")
    per_client = [tokens[i::clients] for i in range(clients)]

    assert server.proc is not None
    pgid = server.proc.pid  # serve runs in a session of its own: its pid is the group id
    load = _drive(server.port, per_client, "/v1/attestations", seconds, pgid)
    accepted = load.statuses.get(201, 0)
    errors = sum(v for k, v in load.statuses.items() if k != 201)
    rate = accepted / load.elapsed
    ms = sorted(x * 1000 for x in load.latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    exhausted = sum(len(b) for b in per_client) == len(ms)
    n = len(ms)
    health = _drive(server.port, [[] for _ in range(clients)], "/healthz", seconds, pgid)
    h_rate = health.statuses.get(200, 0) / health.elapsed
    h_ms = sorted(x * 1000 for x in health.latencies)

    cp = c.http.get(f"{c.base}/v1/log/checkpoint", headers=c.h(auditor)).json()
    in_log = "ok" if cp["tree_size"] == accepted else f"MISMATCH({cp['tree_size']}!={accepted})"
    print(
        f"[{backend}] {accepted} appraisals in {load.elapsed:.1f}s"
        f"{' (tokens ran out: raise --max-tokens)' if exhausted else ''}: {rate:.0f}/s, "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors} {dict(load.statuses)}; "
        f"CPU per request: server {load.server_cpu_s / n * 1000:.2f} ms, "
        f"client {load.client_cpu_s / n * 1000:.3f} ms"
    )
    print(
        f"[{backend}] /healthz: {h_rate:.0f}/s, p50 {statistics.median(h_ms):.1f} ms, "
        f"p99 {h_ms[int(len(h_ms) * 0.99)]:.1f} ms; log tree_size {cp['tree_size']} ({in_log})"
    )
    goal = GOALS[backend]
    return (
        f"BENCH verifier_load backend={backend} clients={clients} seconds={load.elapsed:.1f} "
        f"appraisals_per_s={rate:.1f} p50_ms={p50:.2f} p99_ms={p99:.2f} errors={errors} "
        f"healthz_per_s={h_rate:.1f} ratio_to_healthz={rate / h_rate:.3f} "
        f"goal_per_s={goal:.0f} ratio_to_goal={rate / goal:.3f} "
        f"p99_goal_ms={P99_GOAL_MS:.0f} ratio_p99_to_goal={p99 / P99_GOAL_MS:.2f} in_log={in_log} "
        f"server_cpu_ms={load.server_cpu_s / n * 1000:.2f} "
        f"client_cpu_ms={load.client_cpu_s / n * 1000:.3f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="bound on each measured phase")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=0, help="gunicorn workers (serve's default)")
    ap.add_argument("--threads", type=int, default=0, help="threads per worker (serve's default)")
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--max-tokens", type=int, default=0, help="default: 1500 x seconds")
    ap.add_argument(
        "--witnessing",
        choices=("off", "both"),
        default="both",
        help="both: SQLite again with two witnesses, and a witness's cosigning p99",
    )
    ap.add_argument("--cosignatures", type=int, default=1000, help="add-checkpoint requests")
    args = ap.parse_args()
    cap = args.max_tokens or int(1500 * args.seconds)
    workers = args.workers or os.cpu_count() or 1
    lines = []
    rel = release()
    with tempfile.TemporaryDirectory(prefix="verifier-bench-") as tmp:
        for sub in ("sqlite", "pg"):
            (Path(tmp) / sub).mkdir()
        if args.backend in ("sqlite", "both"):
            server = VerifierServer(
                Path(tmp) / "sqlite", rel.key, workers=workers, threads=args.threads
            )
            lines.append(_with(server, "sqlite", rel, args, cap))
            if args.witnessing == "both":
                lines += _witnessing(Path(tmp), rel, args, cap, workers, lines[-1])
        if args.backend in ("postgresql", "both"):
            if pg_binary("initdb") is None or pg_binary("postgres") is None:
                print("[postgresql] not installed: skipped")
            else:
                pg = PostgresCluster()
                try:
                    server = VerifierServer(
                        Path(tmp) / "pg",
                        rel.key,
                        database_url=pg.new_database(),
                        workers=workers,
                        threads=args.threads,
                    )
                    lines.append(_with(server, "postgresql", rel, args, cap))
                finally:
                    pg.stop()
    for line in lines:
        print(line)
    return 0


def _with(
    server: VerifierServer, backend: str, rel: Release, args: argparse.Namespace, cap: int
) -> str:
    server.start()
    try:
        return run(backend, server, rel, args.clients, args.seconds, cap)
    finally:
        server.stop()


def _field(line: str, name: str) -> float:
    return float(line.split(f" {name}=", 1)[1].split()[0])


def _witnessing(
    tmp: Path, rel: Release, args: argparse.Namespace, cap: int, workers: int, plain: str
) -> list[str]:
    """The SQLite load again with two witnesses, then a witness's cosigning latency."""
    root = tmp / "witnessed"
    root.mkdir()
    server = VerifierServer(root, rel.key, workers=workers, threads=args.threads)
    vkey = server.init_output.split("log vkey:", 1)[1].split()[0]
    witnesses = [WitnessProc(tmp / f"w{i}", f"bench.example/w{i}", vkey) for i in (1, 2)]
    try:
        for w in witnesses:
            w.start()
        configure_witnesses(server.config, witnesses, interval_ms=1000)
        line = _with(server, "sqlite", rel, args, cap)
        print(line.replace("BENCH verifier_load", "witnessed:"))
        cosign = _cosign_latency(tmp / "w-lat", args.cosignatures)
        core = _cosign_core(tmp / "w-core", args.cosignatures)
    finally:
        for w in witnesses:
            w.stop()
    base, with_w = _field(plain, "appraisals_per_s"), _field(line, "appraisals_per_s")
    ratio = with_w / base
    # The machine is shared: server CPU per appraisal is the steadier comparison.
    cpu_ratio = _field(line, "server_cpu_ms") / _field(plain, "server_cpu_ms")
    p99 = cosign[int(len(cosign) * 0.99)]
    print(
        f"[witnessing] {with_w:.0f}/s with two witnesses vs {base:.0f}/s without "
        f"(ratio {ratio:.3f}, drop {100 * (1 - ratio):.1f} %, goal <= 10 %); "
        f"p99 {_field(line, 'p99_ms'):.1f} ms; cosigning p50 "
        f"{statistics.median(cosign):.2f} ms p99 {p99:.2f} ms over {len(cosign)} (goal <= 20); "
        f"in process (no HTTP): p50 {statistics.median(core):.2f} ms "
        f"p99 {core[int(len(core) * 0.99)]:.2f} ms"
    )
    return [
        f"BENCH verifier_witnessing backend=sqlite witnesses=2 plain_per_s={base:.1f} "
        f"witnessed_per_s={with_w:.1f} witnessed_ratio={ratio:.3f} "
        f"drop_pct={100 * (1 - ratio):.1f} goal_drop_pct=10 "
        f"witnessed_p99_ms={_field(line, 'p99_ms'):.2f} "
        f"cosign_p50_ms={statistics.median(cosign):.2f} cosign_p99_ms={p99:.2f} "
        f"cosign_goal_p99_ms=20 ratio_cosign_p99_to_goal={p99 / 20:.2f} "
        f"cosignatures={len(cosign)} errors={_field(line, 'errors'):.0f} "
        f"server_cpu_ratio={cpu_ratio:.3f} "
        f"cosign_core_p99_ms={core[int(len(core) * 0.99)]:.2f}"
    ]


def _requests(n: int) -> tuple[str, list[bytes]]:
    """n add-checkpoint bodies of a growing log (1 to 8 leaves each), and the log's vkey."""
    import random

    from attest.merkle import MerkleTree
    from attest.note import Checkpoint, Signer, sign_checkpoint
    from attest.tlog import AddCheckpoint

    log = Signer.generate("bench.example/log")
    tree = MerkleTree()
    rnd = random.Random(16)  # leaf contents, not secrets
    bodies, old = [], 0
    for _ in range(n):
        for _ in range(rnd.randint(1, 8)):
            tree.append(rnd.randbytes(200))
        note = sign_checkpoint(Checkpoint(log.name, tree.size, tree.root()), log)
        proof = tree.consistency_proof(old, tree.size) if old else []
        bodies.append(AddCheckpoint(old, tuple(proof), note.encode()).encode())
        old = tree.size
    return log.vkey, bodies


def _cosign_core(root: Path, n: int) -> list[float]:
    """The witness's own work per request (checks, durable SQLite commit, cosignature),
    without HTTP: what the witness adds beyond any web request on this machine."""
    from attest.note import ALG_COSIGNATURE_V1, Signer, Verifier
    from witness.core import Witness
    from witness.store import Store

    vkey, bodies = _requests(n)
    root.mkdir()
    key = Signer.generate("bench.example/core", ALG_COSIGNATURE_V1)
    w = Witness(key, [Verifier.from_vkey(vkey)], Store(root / "w.db"), time.time)
    out = []
    for body in bodies:
        t0 = time.perf_counter()
        if w.add_checkpoint(body).status != 200:
            raise RuntimeError("the witness refused a consistent checkpoint")
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def _cosign_latency(root: Path, n: int) -> list[float]:
    """add-checkpoint round trips (ms) to a fresh witness over one keep-alive connection:
    the tree grows by 1 to 8 leaves per checkpoint, each sent with its consistency proof."""
    import httpx

    vkey, bodies = _requests(n)
    root.mkdir()
    w = WitnessProc(root, "bench.example/lat", vkey).start()
    out: list[float] = []
    try:
        with httpx.Client(timeout=10) as http:
            for body in bodies:
                t0 = time.perf_counter()
                r = http.post(f"{w.url}/add-checkpoint", content=body)
                out.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"witness answered {r.status_code}: {r.text}")
    finally:
        w.stop()
    return sorted(out)


if __name__ == "__main__":
    sys.exit(main())
