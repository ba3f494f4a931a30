"""Wall time of a sweep with 1 and 2 local workers: 8 policies x 5 buffer sizes, 32-way,
no ML, on one Zipf trace (10M accesses by default).

    python benchmarks/sweep.py [--accesses 10000000] [--workers 1 2] [--repeat 3]
                               [--workdir DIR]

Each run is a fresh ``recsim run --force`` process, so the time includes the trace load
(memory-mapped native trace, dense ids cached beside it), loading or compiling the Numba
kernels, every replay and writing the table, figures and report. The first run also
fills the kernel cache; the script runs the sweep once untimed first so that both timed
runs see the same cache. Each worker count is timed ``--repeat`` times, alternating, and
the median is reported. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from bench_trace import add_trace_args, bench_trace

POLICIES = ["lru", "lfu", "fifo", "clock", "sieve", "srrip", "drrip", "s3fifo"]
SIZES = [0.01, 0.05, 0.1, 0.15, 0.2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    trace = bench_trace(args)
    spec = args.workdir / "sweep.yaml"
    spec.write_text(f"name: sweep_bench\ntraces: [{{name: zipf, path: {trace.path.resolve()}}}]\n"
                    f"capacities: {SIZES}\nways: [32]\npolicies: {POLICIES}\n")

    def run(workers: int) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "recsim.cli", "run", str(spec), "--force",
                        "--workers", str(workers), "--output", str(args.workdir / "sweep")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    run(max(args.workers))  # fill the kernel cache
    samples = {w: [] for w in args.workers}
    for _ in range(args.repeat):
        for w in args.workers:
            samples[w].append(run(w))
    times = {w: statistics.median(t) for w, t in samples.items()}
    cells = len(POLICIES) * len(SIZES)
    print(f"\n{cells} cells ({len(POLICIES)} policies x {len(SIZES)} sizes, 32-way)\n")
    print(f"| workers | wall time (s), median of {args.repeat} | speed-up |\n|---|---|---|")
    first = times[args.workers[0]]
    for w, t in times.items():
        print(f"| {w} | {t:.1f} | {first / t:.2f}x |")


if __name__ == "__main__":
    main()
