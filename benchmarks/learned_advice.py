"""What the learned plug-ins' prediction cache saves: the time of a replay with the
``recmg`` policy (caching model) and the ``recmg`` prefetcher (prefetch model) when the
models run (a trace's first replay with them) and when their predictions are read back
from the cache beside the trace (every later replay, under any policy, buffer or lag).

    python benchmarks/learned_advice.py [--accesses 1000000] [--train 0.75] [--repeat 3]
                                        [--workdir results/bench_learned]

A meta-like trace and the two models (default sizes, one epoch: the inference cost does
not depend on how well they learnt) are made once under ``--workdir``. Each timing is a
fresh ``recsim.simulate`` in this process after one untimed replay that loads the loop;
"cold" deletes the cache first. Prints one Markdown table: the advice time (inference or
cache read) and the whole replay, medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import recsim
from recsim.recmg.train import TrainConfig, train
from recsim.traces import generate_trace
from recsim.traces.native import is_native


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accesses", type=int, default=1_000_000)
    ap.add_argument("--train", type=float, default=0.75, help="training share of the trace")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path("results/bench_learned"))
    args = ap.parse_args()
    path = args.workdir / f"meta_{args.accesses}.trace"
    if not is_native(path):
        generate_trace("meta-like", path=path, accesses=args.accesses, seed=0)
    trace = recsim.load_trace(path)
    head = int(args.train * args.accesses)
    models = {}
    for kind in ("recmg-cache", "recmg-prefetch"):
        models[kind] = args.workdir / f"{kind}_{args.accesses}.pt"
        if not models[kind].exists():
            train(kind, trace, models[kind], train_accesses=head, capacity=0.15,
                  config=TrainConfig(epochs=1), progress=False)

    def replay() -> dict:
        start = time.perf_counter()
        result = recsim.simulate(trace, "recmg", 0.15, 32, "recmg",
                                 policy_params={"model": str(models["recmg-cache"])},
                                 prefetcher_params={"model": str(models["recmg-prefetch"])},
                                 eval_after=head)
        return {"advice": result.timings["advice_s"], "total": time.perf_counter() - start}

    replay()  # the loop compiled or loaded, the trace's dense ids cached
    samples = {"cold (models run)": [], "cached": []}
    for _ in range(args.repeat):
        shutil.rmtree(path / "advice", ignore_errors=True)
        samples["cold (models run)"].append(replay())
        samples["cached"].append(replay())
    print(f"\n{trace.n_accesses:,} accesses, models advise the last "
          f"{trace.n_accesses - head:,}; medians of {args.repeat}\n")
    print("| predictions | advice (s) | replay with advice (s) |\n|---|---|---|")
    for name, runs in samples.items():
        print(f"| {name} | {statistics.median(r['advice'] for r in runs):.3f} | "
              f"{statistics.median(r['total'] for r in runs):.3f} |")


if __name__ == "__main__":
    main()
