"""Hit rate and replay speed of every registered policy, 32-way, on one Zipf trace.

    python benchmarks/policies.py [--accesses 10000000] [--keys 1000000] [--tables 8]
                                  [--alpha 0.9] [--buffers 0.01 0.05 0.1 0.15 0.2]
                                  [--speed-buffer 0.1] [--policies ...] [--plugin FILE.py ...]

Prints two Markdown tables: hit rate per policy at each buffer size (percent of unique
vectors), and accesses/s per policy at ``--speed-buffer`` (a replay after the hit-rate
ones, so the Numba compile or disk-cache load is excluded; that of the first replay is
reported apart: with a cold kernel cache it is the compile time). The trace is kept
under ``--workdir`` and reused. ``--plugin FILE.py`` (repeatable) loads a one-file
plug-in's policies first, as ``recsim --plugin`` does (docs/write-a-policy.md, step 5).
"""

from __future__ import annotations

import argparse
import sys

import recsim
from bench_trace import add_trace_args, bench_trace
from recsim.errors import RecsimError
from recsim.registry import get_policy, load_plugin_files, policies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap)
    ap.add_argument("--ways", type=int, default=32)
    ap.add_argument("--buffers", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.15, 0.2])
    ap.add_argument("--speed-buffer", type=float, default=0.1)
    ap.add_argument("--policies", nargs="+", help="default: every registered policy")
    ap.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                    help="load the policies this Python file defines (repeatable)")
    args = ap.parse_args()
    load_plugin_files(args.plugin)
    args.policies = args.policies or list(policies())
    for name in args.policies:
        get_policy(name)  # an unknown name fails before the first replay
    trace = bench_trace(args)
    print(f"{args.ways}-way\n")

    print("| policy | " + " | ".join(f"{100 * b:g}%" for b in args.buffers) + " |")
    print("|---|" + "---|" * len(args.buffers))
    compile_s = {}
    for policy in args.policies:
        results = [recsim.simulate(trace, policy, b, args.ways) for b in args.buffers]
        compile_s[policy] = results[0].timings["compile_s"]  # compile or disk-cache load
        print(f"| {policy} | " + " | ".join(f"{100 * r.hit_rate:.2f}" for r in results) + " |")

    print(f"\n| policy | M accesses/s at {100 * args.speed_buffer:g}% | first-call compile s |")
    print("|---|---|---|")
    for policy in args.policies:
        timed = recsim.simulate(trace, policy, args.speed_buffer, args.ways)
        print(f"| {policy} | {timed.timings['accesses_per_s'] / 1e6:.1f} | "
              f"{compile_s[policy]:.2f} |")

if __name__ == "__main__":
    try:
        main()
    except RecsimError as exc:  # an unknown policy, a plug-in that fails to load
        sys.exit(f"policies.py: error: {exc}")
