"""The fixed cost of a warm ``recsim.simulate`` call: a 40-access trace, its loop already in
the process, so what is timed is the driver (settings, inputs, typing the loop's
arguments, the result) and not the replay. The property tests make many such calls.

    python benchmarks/call_overhead.py [--calls 500] [--policies lru srrip]

Prints, per policy and geometry, the median of 5 timings of ``--calls`` calls, in ms per
call.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import recsim
from recsim.traces.trace import Trace


def per_call_ms(trace: Trace, policy: str, capacity: int, ways: int, calls: int) -> float:
    """Median ms per warm call over 5 timings of ``calls`` calls."""
    recsim.simulate(trace, policy, capacity=capacity, ways=ways)  # compile or load
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            recsim.simulate(trace, policy, capacity=capacity, ways=ways)
        times.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--policies", nargs="+", default=["lru", "srrip"])
    args = ap.parse_args()
    trace = Trace.from_arrays(np.zeros(40, np.int32), np.arange(40) % 7, [0, 20, 40])
    for policy in args.policies:
        for capacity, ways in ((4, 2), (4, 0)):
            ms = per_call_ms(trace, policy, capacity, ways, args.calls)
            print(f"{policy:8s} capacity {capacity}, ways {ways}: {ms:.3f} ms per call")


if __name__ == "__main__":
    main()
