"""Verifier throughput under load: valid evidence from N concurrent clients, /healthz as baseline.

Starts the real server (`edgeproof verifier init` + `serve`, gunicorn on 127.0.0.1) on SQLite
and, when Debian's PostgreSQL is installed, on a throwaway PostgreSQL cluster. Devices and
nonces are created before the clock starts; then N client processes (keep-alive HTTP/1.1,
one connection each) submit distinct valid tokens until --seconds pass or the tokens run
out. The same clients then hit /healthz for the same time: `ratio_to_healthz` is the
appraisal rate over that baseline. Finally the log is checked to hold every acceptance.

Goals (issue 3, this 2-core machine, 16 clients): >= 800/s SQLite, >= 500/s PostgreSQL,
p99 <= 50 ms, zero errors.

    .venv/bin/python benchmarks/verifier_load.py --seconds 10
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.keys import SigningKey
from tests.verifier.helpers import (
    PostgresCluster,
    Release,
    VerifierServer,
    release,
)

GOALS = {"sqlite": 800.0, "postgresql": 500.0}
P99_GOAL_MS = 50.0


def _client(job: tuple[int, list[bytes], str, float]) -> tuple[list[float], dict[int, int]]:
    """One client process: sequential requests on one keep-alive connection."""
    port, bodies, path, deadline = job
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    i = 0
    while time.monotonic() < deadline and (not bodies or i < len(bodies)):
        t0 = time.perf_counter()
        if bodies:
            conn.request(
                "POST", path, body=bodies[i], headers={"Content-Type": "application/eat+cwt"}
            )
        else:
            conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        latencies.append(time.perf_counter() - t0)
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
        i += 1
    conn.close()
    return latencies, statuses


def _drive(
    port: int, per_client: list[list[bytes]], path: str, seconds: float
) -> tuple[float, list[float], dict[int, int]]:
    deadline = time.monotonic() + seconds
    jobs = [(port, bodies, path, deadline) for bodies in per_client]
    t0 = time.monotonic()
    with ProcessPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(_client, jobs))
    elapsed = time.monotonic() - t0
    lat = [x for r in results for x in r[0]]
    statuses: dict[int, int] = {}
    for _, s in results:
        for k, v in s.items():
            statuses[k] = statuses.get(k, 0) + v
    return elapsed, lat, statuses


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

    elapsed, lat, statuses = _drive(server.port, per_client, "/v1/attestations", seconds)
    accepted = statuses.get(201, 0)
    errors = sum(v for k, v in statuses.items() if k != 201)
    rate = accepted / elapsed
    ms = sorted(x * 1000 for x in lat)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    exhausted = sum(len(b) for b in per_client) == len(lat)

    h_elapsed, h_lat, h_statuses = _drive(
        server.port, [[] for _ in range(clients)], "/healthz", seconds
    )
    h_rate = h_statuses.get(200, 0) / h_elapsed
    h_ms = sorted(x * 1000 for x in h_lat)

    cp = c.http.get(f"{c.base}/v1/log/checkpoint", headers=c.h(auditor)).json()
    in_log = "ok" if cp["tree_size"] == accepted else f"MISMATCH({cp['tree_size']}!={accepted})"
    print(
        f"[{backend}] {accepted} appraisals in {elapsed:.1f}s"
        f"{' (tokens ran out: raise --max-tokens)' if exhausted else ''}: {rate:.0f}/s, "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors} {dict(statuses)}"
    )
    print(
        f"[{backend}] /healthz: {h_rate:.0f}/s, p50 {statistics.median(h_ms):.1f} ms, "
        f"p99 {h_ms[int(len(h_ms) * 0.99)]:.1f} ms; log tree_size {cp['tree_size']} ({in_log})"
    )
    goal = GOALS[backend]
    return (
        f"BENCH verifier_load backend={backend} clients={clients} seconds={elapsed:.1f} "
        f"appraisals_per_s={rate:.1f} p50_ms={p50:.2f} p99_ms={p99:.2f} errors={errors} "
        f"healthz_per_s={h_rate:.1f} ratio_to_healthz={rate / h_rate:.3f} "
        f"goal_per_s={goal:.0f} ratio_to_goal={rate / goal:.3f} "
        f"p99_goal_ms={P99_GOAL_MS:.0f} ratio_p99_to_goal={p99 / P99_GOAL_MS:.2f} in_log={in_log}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="bound on each measured phase")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=0, help="gunicorn workers (serve's default)")
    ap.add_argument("--threads", type=int, default=0, help="threads per worker (serve's default)")
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--max-tokens", type=int, default=0, help="default: 600 x seconds")
    args = ap.parse_args()
    cap = args.max_tokens or int(600 * args.seconds)
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
        if args.backend in ("postgresql", "both"):
            if not Path("/usr/lib/postgresql/15/bin/initdb").exists():
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


if __name__ == "__main__":
    sys.exit(main())
