"""The replay loop's own time for one row of ``benchmarks/replay.py``: the compiled loop's
calls alone, timed around each call, the best and the median of ``--repeats`` replays in
one process (the first two, which compile or load the loop, left out). ``replay_s``, which
``replay.py`` reports, also counts building the loop's inputs; on a 10M-access trace that
is a tenth of it and moves with the machine's memory.

    python benchmarks/kernel_time.py --row policy:srrip [--repeats 12] [trace options]

Run by another checkout's interpreter from that checkout's root (``side_by_side.py
--kernel``), it times that checkout's loop: it uses only ``recsim.simulate`` and wraps
``recsim.engine.replay.compile_kernel``, which both sides of issue 31 have. Prints one
JSON line: ``recsim`` (M accesses/s at the best time), ``misses``, ``kernel_ms``.
"""

from __future__ import annotations

import argparse
import json
import time

import recsim
import recsim.engine.replay as engine
from bench_trace import add_trace_args, bench_trace
from replay import row_replay


def kernel_times(trace, row: str, buffer: float, repeats: int) -> tuple[list, int]:
    """Seconds of each loop call of ``repeats`` replays of ``row``, and the misses."""
    times, compile_kernel = [], engine.compile_kernel

    def timed_kernel(*args, **kw):
        kernel = compile_kernel(*args, **kw)

        def run(*loop_args):
            start = time.perf_counter()
            kernel(*loop_args)
            times.append(time.perf_counter() - start)
        return run

    engine.compile_kernel = timed_kernel
    policy, ways, prefetcher = row_replay(row)
    capacity = max(1, round(buffer * trace.n_unique))
    for _ in range(repeats + 2):
        result = recsim.simulate(trace, policy, capacity=capacity, ways=ways,
                                 prefetcher=prefetcher)
    engine.compile_kernel = compile_kernel
    return times[-repeats:], result.misses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(ap, alpha=1.0, tables=1)
    ap.add_argument("--buffer", type=float, default=0.1)
    ap.add_argument("--row", required=True, metavar="KIND:NAME")
    ap.add_argument("--repeats", type=int, default=12)
    args = ap.parse_args()
    trace = bench_trace(args, quiet=True)
    times, misses = kernel_times(trace, args.row, args.buffer, args.repeats)
    times.sort()
    print(json.dumps({"row": args.row, "recsim": trace.n_accesses / times[0] / 1e6,
                      "misses": misses, "kernel_ms": [round(t * 1e3, 2) for t in times]}))


if __name__ == "__main__":
    main()
