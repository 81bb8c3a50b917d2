"""Long mutation fuzzing of the document parsers (CI runs a bounded 1,500 per parser).

For each parser of edge/mrtd/sim/fuzz.py (`targets()`: EF.SOD, passive authentication on
mutated SODs, DG1, EF.COM, DG2 with image decoding, DG14, DG15, master lists, CRLs,
EF.CardAccess), seeded from generated documents and, when ../shared is there, the real files
of ../shared/vectors/mrtd-real: prints the inputs run, how many were refused with an
MrtdError, foreign exceptions (anything else: a bug), hangs over 1 s, the slowest input and
the peak traced memory. Fixed seeds, so a finding reproduces. Goal: zero foreign, zero hangs,
peak memory under the bound (64 MiB: a DG2 decode of the largest image we allow).

    python benchmarks/mrtd_fuzz.py [--count 10000] [--seed 1] [--only DG2 --only DG15]
        [--max-seconds 600] [--no-memory]

To fuzz another parser, add a Target to `targets()` in edge/mrtd/sim/fuzz.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from edge.mrtd.sim.fuzz import run_target, targets

SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "mrtd-real"
MEMORY_BOUND_MIB = 64


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000, help="inputs per parser")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", action="append", help="parser name (repeatable)")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="per parser")
    ap.add_argument("--no-memory", action="store_true", help="skip tracemalloc (faster)")
    args = ap.parse_args()

    real = SHARED_REAL if SHARED_REAL.is_dir() else None
    if real is None:
        print("note: ../shared absent, seeds are generated documents only", file=sys.stderr)
    started = time.perf_counter()
    chosen = [t for t in targets(real) if not args.only or t.name in args.only]
    print(
        f"{'parser':14s} {'seeds':>5s} {'inputs':>7s} {'coded':>7s} {'foreign':>7s} "
        f"{'hangs':>5s} {'slowest_ms':>10s} {'peak_MiB':>8s} {'s':>6s}"
    )
    total_foreign = total_hangs = 0
    peak = 0.0
    for target in chosen:
        r = run_target(
            target,
            args.count,
            args.seed,
            trace_memory=not args.no_memory,
            deadline_s=args.max_seconds,
        )
        mib = r.peak_bytes / 2**20
        peak = max(peak, mib)
        total_foreign += r.foreign_count
        total_hangs += r.hangs
        print(
            f"{r.name:14s} {len(target.seeds):5d} {r.inputs:7d} {r.coded:7d} "
            f"{r.foreign_count:7d} {r.hangs:5d} {r.slowest_s * 1000:10.1f} {mib:8.1f} "
            f"{r.seconds:6.1f}",
            flush=True,
        )
        for kind in sorted({f[0] for f in r.foreign})[:5]:
            example = next(f[1] for f in r.foreign if f[0] == kind)
            print(f"    {kind.splitlines()[0]}  (input starts {example[:48]})")
    print(
        f"BENCH mrtd_fuzz parsers={len(chosen)} inputs_per_parser={args.count} "
        f"foreign={total_foreign} hangs_over_1s={total_hangs} peak_mib={peak:.1f} "
        f"memory_bound_mib={MEMORY_BOUND_MIB} seconds={time.perf_counter() - started:.0f}"
    )
    return 0 if total_foreign == 0 and total_hangs == 0 and peak <= MEMORY_BOUND_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
