"""Why set sampling errs more for some policies than for others: from full set-associative
replays (with a hit log), the spread over sets of the misses and the hottest vectors'
miss ratio.

    python benchmarks/sampling_spread.py TRACE [--policies lru drrip mockingjay]
        [--sizes 1% 2% 5% 10% 20% 30%] [--ways 32] [--rate 0.01] [--hot 100]

Per policy and size: the standard deviation over draws of a set-sampled estimate of the
miss ratio at ``--rate`` (k = round(rate x sets) random sets; the misses of the k sets
over the expected accesses k / sets x N: sqrt(k x var(misses per set) x (1 - k / sets))
/ (k / sets x N)), and the miss ratio of the accesses to the ``--hot`` most accessed
vectors, with the share of the accesses they carry.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import recsim
from recsim.engine.settings import set_index
from recsim.traces import load_trace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--policies", nargs="+", default=["lru", "drrip", "mockingjay"])
    ap.add_argument("--sizes", nargs="+", default=["1%", "2%", "5%", "10%", "20%", "30%"])
    ap.add_argument("--ways", type=int, default=32)
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--hot", type=int, default=100)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    trace = load_trace(args.trace)
    dense = trace.dense()
    vid, keys = np.asarray(dense.vid), np.asarray(dense.keys)
    freq = np.bincount(vid, minlength=dense.n_unique)
    hot = np.zeros(dense.n_unique, bool)
    hot[np.argsort(freq)[::-1][:args.hot]] = True
    hot_access = hot[vid]
    print(f"the {args.hot} hottest vectors carry {hot_access.mean():.3f} of the accesses\n")
    print(f"| policy | size | sets | sd of the estimate at R={args.rate:g} | miss ratio | "
          f"miss ratio of the {args.hot} hottest |\n|---|---|---|---|---|---|")
    for policy in args.policies:
        for size in args.sizes:
            full = recsim.simulate(trace, policy, size, args.ways, log_hits=True)
            missed = full.hit_log == 0
            misses = np.bincount(set_index(keys, full.sets)[vid], weights=missed,
                                 minlength=full.sets)
            k = max(1, round(args.rate * full.sets))
            sd = np.sqrt(k * misses.var() * (1 - k / full.sets)) / (k / full.sets * vid.size)
            print(f"| {policy} | {size} | {full.sets:,} | {sd:.4f} | {full.miss_ratio:.4f} | "
                  f"{missed[hot_access].mean():.4f} |", flush=True)


if __name__ == "__main__":
    main()
