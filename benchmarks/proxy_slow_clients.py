"""/healthz latency while slow clients hold connections, behind nginx and without it.

Starts the real verifier (gunicorn on 127.0.0.1, 2 workers x 4 threads) and Debian's nginx
in front of it with verifier/deploy/nginx.conf.in (issue 16, finding 9). Then, for each of
"direct" and "proxy": N clients each send headers and half of a 10 kB body and fall silent,
and /healthz is requested --requests times, one after the other, each with a --timeout
second client timeout. Prints p50, p99 and max latency and the number of timeouts.

Goal (issue 16): behind the proxy, 40 slow clients do not delay /healthz beyond 1 s.

    .venv/bin/python benchmarks/proxy_slow_clients.py --clients 40 --requests 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.keys import SigningKey
from rig.proc import free_port
from rig.verifier import VerifierServer
from tests.verifier.test_proxy import slow_clients
from verifier.proxy import NginxProxy


def measure(url: str, port: int, clients: int, requests: int, timeout: float) -> dict[str, float]:
    times: list[float] = []
    timeouts = 0
    with slow_clients(port, clients), httpx.Client() as http:
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                http.get(f"{url}/healthz", timeout=timeout).raise_for_status()
                times.append(time.perf_counter() - t0)
            except httpx.TimeoutException:
                timeouts += 1
    times.sort()
    ms = [t * 1000 for t in times] or [timeout * 1000]
    return {
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max_ms": ms[-1],
        "timeouts": timeouts,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = VerifierServer(root, SigningKey.generate(), workers=2, threads=4).start()
        proxy = NginxProxy(root / "nginx", f"127.0.0.1:{free_port()}", f"127.0.0.1:{server.port}")
        try:
            proxy.start()
            proxy_port = int(proxy.listen.rsplit(":", 1)[1])
            direct = measure(server.base, server.port, args.clients, 3, args.timeout)
            behind = measure(
                f"http://{proxy.listen}", proxy_port, args.clients, args.requests, args.timeout
            )
        finally:
            proxy.stop()
            server.stop()
    for name, r in (("direct", direct), ("proxy", behind)):
        print(
            f"{name:7s} {args.clients} slow clients: /healthz p50 {r['p50_ms']:.1f} ms, "
            f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms, timeouts {r['timeouts']:.0f}"
        )
    ok = behind["timeouts"] == 0 and behind["max_ms"] <= 1000
    print(
        f"BENCH proxy_slow_clients clients={args.clients} requests={args.requests} "
        f"proxy_p50_ms={behind['p50_ms']:.1f} proxy_p99_ms={behind['p99_ms']:.1f} "
        f"proxy_max_ms={behind['max_ms']:.1f} proxy_timeouts={behind['timeouts']:.0f} "
        f"direct_timeouts={direct['timeouts']:.0f} goal_met={int(ok)}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
