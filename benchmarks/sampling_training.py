"""The cost of replaying the training sets (``Policy.training_sets``) in set-sampled
curves: per policy, the wall time of a set-sampled curve (``sampled_mrc``, 20 sizes by
default) with the training sets and without them (the drawn sets alone), side by side
in one run, and the sets replayed.

    python benchmarks/sampling_training.py TRACE [--policies drrip hawkeye mockingjay]
        [--rate 0.01] [--ways 32] [--sizes 1% 2% ...]

Each variant runs twice, the second timed (its loop compiled or loaded by the first).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings

import recsim.engine.sample as sample
from recsim.engine.replay import replay
from recsim.registry import get_policy
from recsim.traces import load_trace


def curve(trace, policy, args, plain: bool) -> tuple[float, int, int]:
    """Seconds of one sampled curve, the sets drawn and the sets replayed beyond them;
    ``plain``: without the training sets."""
    pol = get_policy(policy)
    bare = dataclasses.replace(pol, training_sets=None, training_only=False)
    original = sample.get_policy
    sample.get_policy = (lambda name: bare) if plain else original
    try:
        start = time.perf_counter()
        settings = sample.ReplaySettings(capacity=1, ways=args.ways, sample=args.rate)
        results = sample.sampled_results(replay, trace, settings, args.sizes, policy, cache={})
        seconds = time.perf_counter() - start
    finally:
        sample.get_policy = original
    drawn = sum(max(1, round(args.rate * r.sets)) for r in results)
    return seconds, drawn, sum(r.params["sample"]["training_sets"] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--policies", nargs="+", default=["drrip", "hawkeye", "mockingjay"])
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--ways", type=int, default=32)
    ap.add_argument("--sizes", nargs="+", default=list(sample.DEFAULT_SIZES))
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    trace = load_trace(args.trace)
    trace.dense()
    print("| policy | sets drawn | training sets replayed too | drawn only s | "
          "with training sets s |\n|---|---|---|---|---|")
    for policy in args.policies:
        for plain in (True, False):  # compile or load both loops, build the trace's caches
            curve(trace, policy, args, plain)
        plain_s, drawn, _ = curve(trace, policy, args, True)
        train_s, _, extra = curve(trace, policy, args, False)
        print(f"| {policy} | {drawn:,} | {extra:,} | {plain_s:.2f} | {train_s:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
