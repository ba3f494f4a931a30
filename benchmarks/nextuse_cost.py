"""What the ``nextuse`` policy costs (issue 29): features plus inference per access, its
replay's speed beside LRU's and Mockingjay's (the same trace, buffer and process), and the
online training in seconds per million accesses.

    python benchmarks/nextuse_cost.py [--accesses 900000] [--capacity 0.15] [--repeat 3]
                                      [--workdir results/bench_nextuse]

A meta-like trace (seed 0) is made once under ``--workdir``. On one core (LightGBM
``threads`` 1): the feature pass (:func:`recsim.nextuse.features.features`, after one
untimed call that loads it), one model's batched prediction of every access, the online
learning's training time (:func:`recsim.nextuse.learn.online` with the policy's
defaults), and replays with the advice read back from the cache (after one untimed
replay that learns and compiles). Prints one Markdown table, medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import recsim
from recsim.engine.settings import resolve_capacity
from recsim.nextuse import features as F
from recsim.nextuse import learn
from recsim.registry import get_policy, resolve_params
from recsim.traces import generate_trace
from recsim.traces.native import is_native


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accesses", type=int, default=900_000)
    ap.add_argument("--capacity", type=float, default=0.15)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default="results/bench_nextuse")
    args = ap.parse_args()
    path = Path(args.workdir) / f"meta_like_{args.accesses}.trace"
    trace = (recsim.load_trace(path) if is_native(path) else
             generate_trace("meta-like", path=path, accesses=args.accesses, seed=0))
    n, dense = trace.n_accesses, trace.dense()
    params = resolve_params("policy", get_policy("nextuse"), {})

    def feats():
        return F.features(dense.vid, trace.table, trace.batch_offsets, dense.n_unique,
                          trace.n_tables)
    x = feats()
    feature_s = _median(feats, args.repeat)
    capacity = resolve_capacity(args.capacity, dense.n_unique)
    advice, booster, _, _, train_s, _ = learn.online(trace, params, capacity, progress=False)
    predict_s = _median(lambda: booster.predict(x, num_threads=1), args.repeat)
    rows = [("features", f"{feature_s:.2f} s", f"{1e6 * feature_s / n:.3f} us"),
            ("inference (32 trees, batched)", f"{predict_s:.2f} s",
             f"{1e6 * predict_s / n:.3f} us"),
            ("features + inference", f"{feature_s + predict_s:.2f} s",
             f"{1e6 * (feature_s + predict_s) / n:.3f} us"),
            ("online training (defaults)", f"{train_s:.1f} s",
             f"{1e6 * train_s / max(n - params['warmup'], 1):.1f} s per million")]
    for policy in ("lru", "mockingjay", "nextuse"):
        recsim.simulate(trace, policy, args.capacity, 32)  # learn, compile, cache
        rate = statistics.median(
            recsim.simulate(trace, policy, args.capacity, 32).timings["accesses_per_s"]
            for _ in range(args.repeat))
        rows.append((f"replay: {policy}, 32-way", f"{n / rate:.2f} s",
                     f"{rate / 1e6:.1f} M accesses/s"))
    print(f"{n:,} accesses of a meta-like trace, buffer {args.capacity:g} of its "
          f"{dense.n_unique:,} vectors, medians of {args.repeat}\n")
    print("| step | time | per access |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
