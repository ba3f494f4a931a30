"""Replay speed of recsim against libCacheSim's C++ replay, on the same trace, in one process.

    python benchmarks/replay.py [--accesses 10000000] [--keys 1000000] [--alpha 1.0]
                                [--buffer 0.1] [--policies lru belady fifo lfu] [--cold]

The trace is a Zipf(alpha) trace over ``keys`` rows of one table (generated once and kept
under ``--workdir``). Both simulators replay it fully associative with a buffer of
``buffer`` x unique vectors. Reported separately: the one-time dense-id remap, the Numba
compile of each replay loop (with ``--cold``, from an empty kernel cache; otherwise the
first call, usually a disk-cache load), and the replay itself (for Belady the
O(N) next-use pass is part of the replay). libCacheSim reads the same trace as an
``oracleGeneral`` file (written once, not timed) through ``libcachesim.TraceReader`` and
``process_trace`` (C++ loop). Miss counts of both are printed, and must agree.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import libcachesim as lcs

import recsim
from bench_trace import add_trace_args, bench_trace
from recsim.traces import oracle_general
from recsim.traces.trace import compute_dense

LIBCACHESIM = {"lru": lcs.LRU, "fifo": lcs.FIFO, "lfu": lcs.LFU, "belady": lcs.Belady}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap, alpha=1.0, tables=1)
    ap.add_argument("--buffer", type=float, default=0.1)
    ap.add_argument("--policies", nargs="+", default=["lru", "belady"],
                    choices=sorted(LIBCACHESIM))
    ap.add_argument("--cold", action="store_true", help="compile into an empty kernel cache")
    args = ap.parse_args()
    if args.cold:
        os.environ["RECSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="recsim-cold-")

    trace = bench_trace(args)
    start = time.perf_counter()
    compute_dense(trace)
    remap_s = time.perf_counter() - start
    oracle = args.workdir / f"{trace.name}.oracleGeneral"
    if not oracle.exists():
        oracle_general.write(trace, oracle)
    reader = lcs.TraceReader(str(oracle), lcs.TraceType.ORACLE_GENERAL_TRACE)
    capacity = max(1, round(args.buffer * trace.n_unique))

    print(f"buffer {capacity:,} vectors, fully associative")
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}; dense-id remap (once per trace, then cached on disk): "
          f"{remap_s:.2f} s")
    header = ("policy", "recsim Macc/s", "libCacheSim Macc/s", "speed-up", "recsim misses",
              "libCacheSim misses", "compile s")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for policy in args.policies:
        result = recsim.simulate(trace, policy, capacity=capacity, ways=0)
        compile_s = result.timings["compile_s"]
        result = recsim.simulate(trace, policy, capacity=capacity, ways=0)  # warm, timed
        ours = trace.n_accesses / result.timings["replay_s"] / 1e6
        cache = LIBCACHESIM[policy](capacity)
        start = time.perf_counter()
        miss_ratio, _ = cache.process_trace(reader)
        theirs = trace.n_accesses / (time.perf_counter() - start) / 1e6
        their_misses = round(miss_ratio * trace.n_accesses)
        print(f"| {policy} | {ours:.1f} | {theirs:.2f} | {ours / theirs:.1f}x | "
              f"{result.misses:,} | {their_misses:,} | {compile_s:.2f} |")


if __name__ == "__main__":
    main()
