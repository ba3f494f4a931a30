"""Hit rate and replay speed of every registered policy, 32-way, on one Zipf trace.

    python benchmarks/policies.py [--accesses 10000000] [--keys 1000000] [--tables 8]
                                  [--alpha 0.9] [--buffers 0.01 0.05 0.1 0.15 0.2]
                                  [--speed-buffer 0.1] [--policies ...]

Prints two Markdown tables: hit rate per policy at each buffer size (percent of unique
vectors), and accesses/s per policy at ``--speed-buffer`` (the second of two replays,
so the Numba compile or disk-cache load is excluded; reported apart). The trace is kept
under ``--workdir`` and reused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import recsim
from recsim.registry import policies
from recsim.traces import zipf
from recsim.traces.native import is_native


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accesses", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=1_000_000, help="rows in all")
    ap.add_argument("--tables", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=0.9)
    ap.add_argument("--ways", type=int, default=32)
    ap.add_argument("--buffers", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.15, 0.2])
    ap.add_argument("--speed-buffer", type=float, default=0.1)
    ap.add_argument("--policies", nargs="+", default=list(policies()))
    ap.add_argument("--workdir", type=Path, default=Path("results/bench"))
    args = ap.parse_args()

    name = f"zipf{args.alpha}_{args.accesses}_{args.tables}x{args.keys // args.tables}"
    path = args.workdir / f"{name}.trace"
    if not is_native(path):
        zipf.generate(args.accesses, tables=args.tables, rows=args.keys // args.tables,
                      alpha=args.alpha, path=path)
    trace = recsim.load_trace(path)
    print(f"trace: {trace.n_accesses:,} accesses, {trace.n_tables} tables, "
          f"{trace.n_unique:,} unique vectors, Zipf({args.alpha}); {args.ways}-way\n")

    print("| policy | " + " | ".join(f"{100 * b:g}%" for b in args.buffers) + " |")
    print("|---|" + "---|" * len(args.buffers))
    for policy in args.policies:
        rates = [recsim.simulate(trace, policy, b, args.ways).hit_rate for b in args.buffers]
        print(f"| {policy} | " + " | ".join(f"{100 * r:.2f}" for r in rates) + " |")

    print(f"\n| policy | M accesses/s at {100 * args.speed_buffer:g}% | first-call compile s |")
    print("|---|---|---|")
    for policy in args.policies:
        first = recsim.simulate(trace, policy, args.speed_buffer, args.ways)
        timed = recsim.simulate(trace, policy, args.speed_buffer, args.ways)
        print(f"| {policy} | {timed.timings['accesses_per_s'] / 1e6:.1f} | "
              f"{first.timings['compile_s']:.2f} |")


if __name__ == "__main__":
    main()
