"""Long mutation fuzzing of the document parsers (CI runs a bounded 1,500 per parser).

For each parser of rig/mrtd/fuzz.py (`targets()`: EF.SOD, passive authentication on
mutated SODs, DG1, EF.COM, DG2 with image decoding, DG14, DG15, master lists, CRLs,
EF.CardAccess), seeded from generated documents and, when the shared data is there, the real files
of its vectors/mrtd-real: prints the inputs run, how many were refused with an
MrtdError, foreign exceptions (anything else: a bug), hangs over 1 s, the slowest input and
the peak memory. Each parser runs in its own child process, so its peak resident memory
(above the child's baseline after building the seeds) is its own. Fixed seeds, so a finding
reproduces. Goal: zero foreign, zero hangs, memory growth under MEMORY_BOUND_MIB (a DG2
image is bounded at 4096 x 4096 pixels: 48 MiB decoded, twice while converting to RGB).

    python benchmarks/mrtd_fuzz.py [--count 10000] [--seed 1] [--only DG2 --only DG15]
        [--max-seconds 600]

To fuzz another parser, add a Target to `targets()` in rig/mrtd/fuzz.py.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from rig.mrtd.fuzz import run_target, targets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.shared import MRTD_REAL  # noqa: E402 (public data beside the checkout)

SHARED_REAL = MRTD_REAL
MEMORY_BOUND_MIB = 160


def _child(name: str, count: int, seed: int, max_seconds: float) -> int:
    """Fuzz one parser in this (child) process and print its figures as one JSON line."""
    real = SHARED_REAL if SHARED_REAL.is_dir() else None
    target = next(t for t in targets(real) if t.name == name)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    r = run_target(target, count, seed, deadline_s=max_seconds)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    kinds = sorted({f[0].splitlines()[0] for f in r.foreign})[:5]
    examples = [next(f[1] for f in r.foreign if f[0].splitlines()[0] == k) for k in kinds]
    print(
        json.dumps(
            {
                "seeds": len(target.seeds),
                "inputs": r.inputs,
                "coded": r.coded,
                "foreign": r.foreign_count,
                "kinds": list(zip(kinds, examples, strict=True)),
                "hangs": r.hangs,
                "slowest_ms": r.slowest_s * 1000,
                "grown_mib": grown / 1024,
                "seconds": r.seconds,
            }
        )
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000, help="inputs per parser")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", action="append", help="parser name (repeatable)")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="per parser")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args.child, args.count, args.seed, args.max_seconds)

    real = SHARED_REAL if SHARED_REAL.is_dir() else None
    if real is None:
        print(
            "note: the shared data is absent, seeds are generated documents only", file=sys.stderr
        )
    started = time.perf_counter()
    names = [t.name for t in targets(real) if not args.only or t.name in args.only]
    print(
        f"{'parser':14s} {'seeds':>5s} {'inputs':>7s} {'coded':>7s} {'foreign':>7s} "
        f"{'hangs':>5s} {'slowest_ms':>10s} {'mem_MiB':>8s} {'s':>6s}"
    )
    total_foreign = total_hangs = 0
    peak = 0.0
    for name in names:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                *("--child", name, "--count", str(args.count), "--seed", str(args.seed)),
                *("--max-seconds", str(args.max_seconds)),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"{name:14s} child failed: {child.stderr.strip().splitlines()[-1:]}")
            total_foreign += 1
            continue
        r = json.loads(child.stdout.strip().splitlines()[-1])
        peak = max(peak, r["grown_mib"])
        total_foreign += r["foreign"]
        total_hangs += r["hangs"]
        print(
            f"{name:14s} {r['seeds']:5d} {r['inputs']:7d} {r['coded']:7d} {r['foreign']:7d} "
            f"{r['hangs']:5d} {r['slowest_ms']:10.1f} {r['grown_mib']:8.1f} {r['seconds']:6.1f}",
            flush=True,
        )
        for kind, example in r["kinds"]:
            print(f"    {kind}  (input starts {example[:48]})")
    print(
        f"BENCH mrtd_fuzz parsers={len(names)} inputs_per_parser={args.count} "
        f"foreign={total_foreign} hangs_over_1s={total_hangs} peak_mem_growth_mib={peak:.1f} "
        f"memory_bound_mib={MEMORY_BOUND_MIB} seconds={time.perf_counter() - started:.0f}"
    )
    return 0 if total_foreign == 0 and total_hangs == 0 and peak <= MEMORY_BOUND_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
