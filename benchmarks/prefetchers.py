"""Replay speed and prefetch statistics of every registered prefetcher with one policy.

    python benchmarks/prefetchers.py [--policy lru] [--ways 32] [--buffer 0.1]
                                     [--prefetch-latency 0] [--fetch-latency 0]
                                     [--prefetchers ...] [trace options, see bench_trace.py]

Prints a Markdown table: accesses/s (the second of two replays, so the Numba compile or
disk-cache load is excluded and reported apart), hit rate, prefetches issued and their
utilization, per prefetcher, on the benchmark Zipf trace (10M accesses by default).
"""

from __future__ import annotations

import argparse

import recsim
from bench_trace import add_trace_args, bench_trace
from recsim.registry import prefetchers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap)
    ap.add_argument("--policy", default="lru")
    ap.add_argument("--ways", type=int, default=32)
    ap.add_argument("--buffer", type=float, default=0.1)
    ap.add_argument("--prefetch-latency", type=int, default=0)
    ap.add_argument("--fetch-latency", type=int, default=0)
    ap.add_argument("--prefetchers", nargs="+", default=list(prefetchers()))
    args = ap.parse_args()
    trace = bench_trace(args)
    print(f"{args.policy}, {args.ways}-way, buffer {100 * args.buffer:g}%, prefetch latency "
          f"{args.prefetch_latency}, fetch latency {args.fetch_latency}\n")
    print("| prefetcher | M accesses/s | first-call compile s | hit rate % | issued | "
          "utilization |")
    print("|---|---|---|---|---|---|")
    for name in args.prefetchers:
        kw = dict(prefetcher=name, prefetch_latency=args.prefetch_latency,
                  fetch_latency=args.fetch_latency)
        first = recsim.simulate(trace, args.policy, args.buffer, args.ways, **kw)
        timed = recsim.simulate(trace, args.policy, args.buffer, args.ways, **kw)
        util = "-" if timed.utilization is None else f"{timed.utilization:.3f}"
        print(f"| {name} | {timed.timings['accesses_per_s'] / 1e6:.1f} | "
              f"{first.timings['compile_s']:.2f} | {100 * timed.hit_rate:.2f} | "
              f"{timed.prefetches_issued:,} | {util} |")


if __name__ == "__main__":
    main()
