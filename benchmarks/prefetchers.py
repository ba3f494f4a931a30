"""Replay speed and prefetch statistics of every registered prefetcher with one policy.

    python benchmarks/prefetchers.py [--policy lru] [--ways 32] [--buffer 0.1]
                                     [--prefetch-latency 0] [--fetch-latency 0]
                                     [--prefetchers ...] [trace options, see bench_trace.py]
    python benchmarks/prefetchers.py --source before=DIR after=. [--repeats 3] [...]

Prints a Markdown table: accesses/s (the second of two replays, so the Numba compile or
disk-cache load is excluded and reported apart), hit rate, prefetches issued and their
utilization, per prefetcher, on the benchmark Zipf trace (10M accesses by default).

``--source LABEL=DIR`` (two or more) compares checkouts side by side instead (e.g. ``git
archive`` of the commit before a change, as for benchmarks/compile.py): each (prefetcher,
source) replays in its own process, with a kernel cache per source, the sources
alternating over ``--repeats`` so both see the same load of a shared machine; the table
gives the median accesses/s of each, wall and CPU (the replay call's CPU seconds: the
steadier figure on a loaded machine), and whether their counts are equal. With
``--machine-code`` it compares instead the machine code of each source's plain
set-associative loop (LRU + the prefetcher, compiled afresh on a small trace): its
instructions, symbol names aside, and whether they are the same sequence.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import recsim
from bench_trace import add_trace_args, bench_trace
from compile import LOADER
from recsim.registry import prefetchers

CHILD = LOADER + """
import recsim
trace = recsim.load_trace(sys.argv[1])
policy, ways, buffer, prefetcher = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
kw = dict(prefetch_latency=int(sys.argv[6]), fetch_latency=int(sys.argv[7]))
recsim.simulate(trace, policy, buffer, ways, prefetcher, **kw)  # compiles or loads the loop
cpu = time.process_time()
r = recsim.simulate(trace, policy, buffer, ways, prefetcher, **kw)
print(json.dumps({"aps": r.timings["accesses_per_s"], "counts": r.counts,
                  "cpu_aps": trace.n_accesses / (time.process_time() - cpu)}))
"""


ASM = LOADER + """
import recsim
from recsim.engine.kernels import load_kernel
from recsim.registry import get_policy, get_prefetcher
from recsim.traces import zipf
recsim.simulate(zipf.generate(20_000, tables=1, rows=5_000, seed=0), "lru", 0.1, 32, sys.argv[1])
kernel = load_kernel(get_policy("lru"), get_prefetcher(sys.argv[1]), frozenset())
print(kernel.inspect_asm(kernel.signatures[0]))
"""


def loop_code(path: str, prefetcher: str) -> list[str]:
    """The instructions of the loop's own function (not its CPython wrapper), compiled
    in a fresh process and caches from checkout ``path``, symbol names blanked."""
    with tempfile.TemporaryDirectory() as kernels, tempfile.TemporaryDirectory() as numba:
        env = {**os.environ, "RECSIM_BENCH_SOURCE": str(Path(path).resolve()),
               "RECSIM_CACHE_DIR": kernels, "NUMBA_CACHE_DIR": numba}
        asm = subprocess.run([sys.executable, "-c", ASM, prefetcher], env=env, check=True,
                             capture_output=True, text=True).stdout
    code, inside = [], False
    for line in asm.splitlines():
        if line and not line[0].isspace() and line.endswith(":") and line[0] != ".":
            inside = "cpython" not in line and "cfunc" not in line
        elif inside and line.startswith("\t") and not line.strip().startswith("."):
            code.append(re.sub(r"_Z\S+|\.L\w+", "X", line.strip()))
    return code


def compare_code(args, sources: list[list[str]]) -> None:
    """The table of ``--machine-code``."""
    print("| prefetcher | " + " | ".join(f"{label}: instructions" for label, _ in sources)
          + " | same sequence |")
    print("|---|" + "---|" * len(sources) + "---|")
    for name in args.prefetchers:
        code = [loop_code(path, name) for _, path in sources]
        print(f"| {name} | " + " | ".join(f"{len(c):,}" for c in code)
              + f" | {all(c == code[0] for c in code)} |")


def compare(args, trace, sources: list[list[str]]) -> None:
    """The side-by-side table of ``--source``."""
    cache = Path(os.environ.get("RECSIM_CACHE_DIR", args.workdir / "kernels"))
    runs = {}
    for name in args.prefetchers:
        for repeat in range(args.repeats):
            for label, path in sources[::-1] if repeat % 2 else sources:
                env = {**os.environ, "RECSIM_BENCH_SOURCE": str(Path(path).resolve()),
                       "RECSIM_CACHE_DIR": str(cache / label)}
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(trace.path), args.policy, str(args.ways),
                     str(args.buffer), name, str(args.prefetch_latency),
                     str(args.fetch_latency)], env=env, check=True, capture_output=True,
                    text=True).stdout
                runs.setdefault((name, label), []).append(json.loads(out.splitlines()[-1]))
    print("| prefetcher | " + " | ".join(f"{label}: M accesses/s wall | CPU"
                                          for label, _ in sources) + " | counts equal |")
    print("|---|" + "---|---|" * len(sources) + "---|")
    for name in args.prefetchers:
        got = [runs[name, label] for label, _ in sources]
        speeds = [statistics.median(r[k] for r in g) / 1e6 for g in got for k in ("aps",
                                                                                "cpu_aps")]
        same = all(r["counts"] == got[0][0]["counts"] for g in got for r in g)
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in speeds) + f" | {same} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap)
    ap.add_argument("--policy", default="lru")
    ap.add_argument("--ways", type=int, default=32)
    ap.add_argument("--buffer", type=float, default=0.1)
    ap.add_argument("--prefetch-latency", type=int, default=0)
    ap.add_argument("--fetch-latency", type=int, default=0)
    ap.add_argument("--prefetchers", nargs="+", default=list(prefetchers()))
    ap.add_argument("--source", nargs="+", default=[], metavar="LABEL=DIR",
                    help="checkouts to compare side by side")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each source (medians)")
    ap.add_argument("--machine-code", action="store_true",
                    help="with --source: compare the plain loops' machine code instead")
    args = ap.parse_args()
    if args.machine_code:
        return compare_code(args, [s.split("=", 1) for s in args.source])
    trace = bench_trace(args)
    print(f"{args.policy}, {args.ways}-way, buffer {100 * args.buffer:g}%, prefetch latency "
          f"{args.prefetch_latency}, fetch latency {args.fetch_latency}\n")
    if args.source:
        return compare(args, trace, [s.split("=", 1) for s in args.source])
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
