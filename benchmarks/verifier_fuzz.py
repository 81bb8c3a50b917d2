"""The long fuzz run against a running verifier under gunicorn (issue 16).

The CI test (tests/verifier/test_fuzz.py) sends a few thousand inputs; this sends at least
10^5 mutated tokens and 2 x 10^4 malformed requests and prints what came back:

- mutated evidence tokens (bit flips, byte edits, truncations, splices, junk CBOR) POSTed
  to /v1/attestations by 4 keep-alive clients: each must be refused (never 201);
- mutated attestation results (CWT and JWT) checked with attest.rp's parser: never valid;
- malformed raw requests (broken chunked framing, lying Content-Length, CL+TE, mutated
  heads, unknown transfer codings) over fresh sockets: never a 5xx other than 503 (501 for
  an unknown transfer coding is counted apart: RFC 9112 section 6.1 prescribes it);
- gunicorn's worker PIDs before and after: a changed set means a worker crashed.

    .venv/bin/python benchmarks/verifier_fuzz.py --tokens 100000 --requests 20000
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.ear import verify_ear_cwt, verify_ear_jwt
from attest.errors import AttestError
from attest.keys import b64url_decode
from rig.verifier import VerifierServer, make_world, release
from tests.verifier.malformed import malformed_requests, send
from tests.verifier.test_fuzz import mutations, worker_pids


def unknown_coding(raw: bytes) -> bool:
    """Whether the request names a transfer coding other than plain `chunked`."""
    head = raw.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    te = [ln.split(b":", 1)[1].strip() for ln in head if ln.startswith(b"transfer-encoding:")]
    return bool(te) and te[0] != b"chunked"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=100_000, help="mutated evidence tokens")
    ap.add_argument("--results", type=int, default=20_000, help="mutated results (local)")
    ap.add_argument("--requests", type=int, default=20_000, help="malformed raw requests")
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        rel = release()
        server = VerifierServer(Path(tmp), rel.key, workers=2).start()
        try:
            w = make_world(server, rel)
            c = w.client
            assert server.proc is not None
            workers_before = worker_pids(server.proc.pid)
            seeds = [w.good() for _ in range(8)]
            t0 = time.perf_counter()
            shared = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=4))

            def post(body: bytes) -> int:
                return shared.post(
                    f"{c.base}/v1/attestations",
                    content=body,
                    headers={"Content-Type": "application/eat+cwt"},
                ).status_code

            # Exactly --tokens bodies that differ from every seed (a mutation can undo
            # itself, e.g. a splice of a seed with itself): draw until there are enough.
            seed_set = set(seeds)
            bodies = itertools.islice(
                (b for b in mutations(rng, seeds, 2 * args.tokens) if b not in seed_set),
                args.tokens,
            )
            token_status: dict[int, int] = {}
            with shared, ThreadPoolExecutor(4) as pool:
                for st in pool.map(post, bodies, chunksize=64):
                    token_status[st] = token_status.get(st, 0) + 1
            t_tokens = time.perf_counter() - t0

            good = c.submit(w.good())
            keys = c.keyset()
            cwt, jwt = b64url_decode(good.json()["ear"]["cwt"]), good.json()["ear"]["jwt"]
            results_accepted = 0
            for i, m in enumerate(mutations(rng, [cwt, jwt.encode()], args.results)):
                try:
                    if i % 2 == 0 and m != cwt:
                        verify_ear_cwt(m, keys, closed=False)
                        results_accepted += 1
                    elif m != jwt.encode():
                        verify_ear_jwt(m.decode("latin-1"), keys, closed=False)
                        results_accepted += 1
                except (AttestError, ValueError):
                    pass

            t1 = time.perf_counter()
            req_status: dict[int, int] = {}
            for raw in malformed_requests(rng, args.requests, c.admin):
                st = send(server.port, raw)
                if st == 501 and unknown_coding(raw):
                    st = -501  # an unknown transfer coding: RFC 9112's own answer
                req_status[st] = req_status.get(st, 0) + 1
            t_requests = time.perf_counter() - t1
            workers_after = worker_pids(server.proc.pid)
            healthy = c.http.get(f"{c.base}/healthz").status_code == 200
        finally:
            server.stop()
    accepted = token_status.get(201, 0) + results_accepted
    five = sum(n for s, n in {**token_status, **req_status}.items() if s >= 500 and s != 503)
    crashes = len(workers_before - workers_after)
    n_tokens = sum(token_status.values())
    print(f"mutated evidence tokens: {n_tokens} in {t_tokens:.1f} s, statuses {token_status}")
    print(f"mutated results: {args.results}, accepted {results_accepted}")
    print(f"malformed requests: {args.requests} in {t_requests:.1f} s, statuses {req_status}")
    print("(-501: 501 for an unknown transfer coding; 0: closed without an answer)")
    print(f"accepted {accepted}, 5xx {five}, worker crashes {crashes}, healthy after {healthy}")
    print(
        f"BENCH verifier_fuzz tokens={n_tokens} results={args.results} "
        f"requests={args.requests} accepted={accepted} http_5xx={five} "
        f"worker_crashes={crashes} tokens_per_s={n_tokens / t_tokens:.0f}"
    )
    return 0 if accepted == five == crashes == 0 and healthy else 1


if __name__ == "__main__":
    sys.exit(main())
