"""The speed table: recsim against libCacheSim's C++ replay on the same trace, plus the
recsim-only set-associative policies and prefetchers, with recsim's peak memory per row.

    python benchmarks/replay.py [--accesses 10000000] [--keys 1000000] [--alpha 1.0]
                                [--buffer 0.1] [--rows shared:lru policy:srrip ...] [--cold]

The trace is a Zipf(alpha) trace over ``keys`` rows of one table (generated once and kept
under ``--workdir``). Rows:

- ``shared:NAME`` (LRU, FIFO, LFU, ARC, S3-FIFO, SIEVE, Belady, 2Q, MQ, LIRS, CLOCK-Pro,
  LeCaR, CACHEUS, LHD;
  SLRU and LFUDA from the example plug-in package ``examples/recsim-extra-policies``): both
  simulators replay it fully associative with a buffer of ``buffer`` x unique vectors;
  libCacheSim reads the trace as an ``oracleGeneral`` file (written once, not timed) through
  ``libcachesim.TraceReader`` and ``process_trace`` (its C++ loop), with its default
  parameters; both miss counts are printed and must agree (LIRS: but for the hits on
  vectors libCacheSim evicted during a hit, policies/lirs.py; CLOCK-Pro: libCacheSim
  0.3.5's never evicts, policies/clockpro.py, so its counts and speed are not CLOCK-Pro's;
  LeCaR, CACHEUS, LHD: random draws from different streams, so the counts agree only
  statistically, and recsim's CACHEUS follows the authors' code, policies/cacheus.py);
- ``policy:NAME``: recsim only, 32-way (SRRIP, DRRIP, Hawkeye, Mockingjay);
- ``prefetcher:NAME``: recsim only, LRU with that prefetcher, 32-way.

Each row runs in a fresh process, so its peak resident memory (``VmHWM``, taken after
recsim's replays and before libCacheSim's) is the row's own: the memory-mapped trace, its
dense ids, the replay state. Timed: the second of two recsim replays (the first compiles
or loads the loop from the disk cache; its time is the "compile s" column; with
``--cold`` the kernel cache starts empty). For Belady the O(N) next-use pass is part of
the replay. The dense-id remap is done once before the rows and reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import recsim
from bench_trace import add_trace_args, bench_trace, oracle_copy, peak_rss_mb
from recsim.traces.trace import compute_dense

SHARED = {"lru": "LRU", "fifo": "FIFO", "lfu": "LFU", "arc": "ARC", "s3fifo": "S3FIFO",
          "sieve": "Sieve", "belady": "Belady", "twoq": "TwoQ", "mq": "MQ",
          "lirs": "LIRS", "clockpro": "ClockPro",
          "slru": "SLRU", "lfuda": "LFUDA",  # these two: examples/recsim-extra-policies
          "lecar": "LeCaR", "cacheus": "Cacheus", "lhd": "LHD"}
ROWS = ([f"shared:{p}" for p in SHARED]
        + [f"policy:{p}" for p in ("srrip", "drrip", "hawkeye", "mockingjay")]
        + [f"prefetcher:{p}" for p in ("stride", "bop", "berti", "mab", "bingo", "domino")])


def row_replay(row: str) -> tuple[str, int, str]:
    """A row's ``(policy, ways, prefetcher)``."""
    kind, name = row.split(":")
    return {"shared": (name, 0, "none"), "policy": (name, 32, "none"),
            "prefetcher": ("lru", 32, name)}[kind]


def run_row(args, row: str) -> dict:
    """One row, in this process (see the module docstring)."""
    kind, name = row.split(":")
    trace = bench_trace(args, quiet=True)
    capacity = max(1, round(args.buffer * trace.n_unique))
    policy, ways, prefetcher = row_replay(row)
    first = recsim.simulate(trace, policy, capacity=capacity, ways=ways, prefetcher=prefetcher)
    result = recsim.simulate(trace, policy, capacity=capacity, ways=ways, prefetcher=prefetcher)
    out = {"row": row, "recsim": trace.n_accesses / result.timings["replay_s"] / 1e6,
           "misses": result.misses, "compile_s": first.timings["compile_s"],
           "rss_mb": peak_rss_mb()}
    if kind == "shared":
        import libcachesim as lcs

        reader = lcs.TraceReader(str(args.workdir / f"{trace.name}.oracleGeneral"),
                                 lcs.TraceType.ORACLE_GENERAL_TRACE)
        cache = getattr(lcs, SHARED[name])(capacity)
        start = time.perf_counter()
        miss_ratio, _ = cache.process_trace(reader)
        out["libcachesim"] = trace.n_accesses / (time.perf_counter() - start) / 1e6
        out["libcachesim_misses"] = round(miss_ratio * trace.n_accesses)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap, alpha=1.0, tables=1)
    ap.add_argument("--buffer", type=float, default=0.1)
    ap.add_argument("--rows", nargs="+", default=ROWS, choices=ROWS, metavar="KIND:NAME")
    ap.add_argument("--cold", action="store_true", help="compile into an empty kernel cache")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # internal: run one row, print JSON
    args = ap.parse_args()
    if args.row:
        print(json.dumps(run_row(args, args.row)))
        return
    if args.cold:
        os.environ["RECSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="recsim-cold-")

    trace = bench_trace(args)
    start = time.perf_counter()
    compute_dense(trace)
    remap_s = time.perf_counter() - start
    oracle_copy(trace, args.workdir)  # dense ids cached beside the trace for the rows
    capacity = max(1, round(args.buffer * trace.n_unique))
    print(f"buffer {capacity:,} vectors ({100 * args.buffer:g}% of unique); machine: "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; dense-id remap (once per trace, then cached on "
          f"disk): {remap_s:.2f} s\n")
    header = ("row", "geometry", "recsim Macc/s", "libCacheSim Macc/s", "speed-up",
              "recsim misses", "libCacheSim misses", "compile s", "recsim peak RSS MB")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    trace_args = [a for a in sys.argv[1:] if a != "--cold"]
    for row in args.rows:
        done = subprocess.run([sys.executable, __file__, *trace_args, "--row", row],
                              capture_output=True, text=True, check=True, env=os.environ)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        theirs = r.get("libcachesim")
        cells = [row, "fully associative" if row.startswith("shared") else "32-way",
                 f"{r['recsim']:.1f}", "-" if theirs is None else f"{theirs:.2f}",
                 "-" if theirs is None else f"{r['recsim'] / theirs:.1f}x",
                 f"{r['misses']:,}",
                 "-" if theirs is None else f"{r['libcachesim_misses']:,}",
                 f"{r['compile_s']:.2f}", f"{r['rss_mb']:.0f}"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
