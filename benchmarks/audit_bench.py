"""How fast an auditor can check the log: proofs at 10^3..10^6 entries, full re-verification.

Proofs: logs of 10^3, 10^5 and 10^6 leaves built directly through attest.merkle.MerkleTree
(the verifier's own log code), then RFC 9162 consistency (2.1.4.2) and inclusion (2.1.3.2)
proofs verified repeatedly; the figure is the median time of one verification. Goal: the
cost grows as O(log n), with a 10^6-entry proof checked in <= 1 ms.

Re-verification: 10^4 genuine ES256 EARs, checked the way `edgeproof audit` checks a full log
(audit.checks.scan_entry: verifier signature, EAR schema, privacy registry; then the tree
rebuilt from the entries and compared with the root), in this one process. Goal: >= 2,000
entries/s on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable

from attest import merkle
from attest.ear import Ear, Status, TrustVector, sign_ear_cwt
from attest.evidence import Decision
from attest.keys import SigningKey
from attest.keyset import KeySet
from audit.checks import recompute, scan_entry

PROOF_GOAL_MS = 1.0
REVERIFY_GOAL = 2000.0


def median_ms(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def proofs(n: int, reps: int) -> tuple[float, float, float, int, int]:
    """(build s, consistency ms, inclusion ms, consistency proof length, inclusion length)."""
    t0 = time.perf_counter()
    tree = merkle.MerkleTree(hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n))
    build = time.perf_counter() - t0
    old = n // 3 + 1
    root_old, root = tree.root(old), tree.root()
    cproof = tree.consistency_proof(old, n)
    index = (n * 2) // 3
    leaf = tree.leaf(index)
    iproof = tree.inclusion_proof(index)
    cons = median_ms(lambda: merkle.verify_consistency(old, n, cproof, root_old, root), reps)
    incl = median_ms(lambda: merkle.verify_inclusion(leaf, index, n, iproof, root), reps)
    return build, cons, incl, len(cproof), len(iproof)


def signed_ears(n: int, key: SigningKey) -> list[bytes]:
    now = int(time.time())
    tv = TrustVector.from_items({})
    return [
        sign_ear_cwt(
            Ear(
                iat=now,
                status=Status.AFFIRMING,
                trust_vector=tv,
                policy_id="production",
                verifier_build="bench",
                nonce=hashlib.sha256(b"n%d" % i).digest(),
                appraisal_id=hashlib.md5(b"%d" % i, usedforsecurity=False).hexdigest(),
                evidence_digest=hashlib.sha256(b"e%d" % i).digest(),
                device_kid=hashlib.sha256(b"device").digest(),
                decision=Decision.MATCH,
                txn_hash=None,
            ),
            key,
        )
        for i in range(n)
    ]


def reverify(entries: list[bytes], keys: KeySet) -> float:
    """Entries per second for signature + schema + privacy scan + tree rebuild + root check."""
    root = merkle.MerkleTree(merkle.leaf_hash(e) for e in entries).root()
    t0 = time.perf_counter()
    findings = [f for i, e in enumerate(entries) for f in scan_entry(i, e, keys)]
    leaves = {i: merkle.leaf_hash(e) for i, e in enumerate(entries)}
    rebuilt = recompute(leaves, len(entries)).tree.root()
    elapsed = time.perf_counter() - t0
    if findings or rebuilt != root:
        raise SystemExit(f"re-verification failed: {findings[:3]}")
    return len(entries) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=2000, help="verifications per proof size")
    ap.add_argument("--entries", type=int, default=10_000, help="entries to re-verify")
    args = ap.parse_args()
    figures: dict[str, str] = {}
    for label, n in (("1e3", 10**3), ("1e5", 10**5), ("1e6", 10**6)):
        build, cons, incl, clen, ilen = proofs(n, args.reps)
        worst = max(cons, incl)
        print(
            f"n={n:>8}: built in {build:6.2f} s; consistency {cons:.4f} ms ({clen} hashes), "
            f"inclusion {incl:.4f} ms ({ilen} hashes)"
        )
        figures[f"consistency_ms_{label}"] = f"{cons:.4f}"
        figures[f"inclusion_ms_{label}"] = f"{incl:.4f}"
        figures[f"proof_ms_{label}"] = f"{worst:.4f}"
    figures["proof_ms_1e6_to_goal"] = f"{float(figures['proof_ms_1e6']) / PROOF_GOAL_MS:.4f}"
    key = SigningKey.generate()
    entries = signed_ears(args.entries, key)
    per_s = reverify(entries, KeySet.of([key.public]))
    print(
        f"re-verified {args.entries} entries (ES256 signature, EAR schema, privacy scan, "
        f"tree rebuild): {per_s:.0f} entries/s; goal >= {REVERIFY_GOAL:.0f}"
    )
    figures["reverify_per_s"] = f"{per_s:.0f}"
    figures["reverify_to_goal"] = f"{per_s / REVERIFY_GOAL:.3f}"
    print(
        f"proof goal: 10^6-entry proof <= {PROOF_GOAL_MS} ms (ratio < 1 meets it); "
        "re-verification ratio >= 1 meets its goal"
    )
    print("BENCH audit " + " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
