"""Production-size replay: a meta-like trace as large as Meta's released ones, generated to
disk once, then its dense-id remap, a 32-way LRU replay at a 10% buffer (single shot and
streamed in chunks), a 1%-sampled LRU miss-ratio curve (SHARDS) and every policy's
sampled curve (``curves``: ``recsim mrc --policy ... --sample 0.01 --ways 32`` at its 20
default sizes, docs/sampling.md), each in a fresh process that reports its wall time and
peak resident memory (VmHWM).

    python benchmarks/scale.py [--accesses 468000000] [--workdir results/bench]
                               [--chunk 16000000] [--steps gen remap replay chunked mrc curves
                               full] [--policies ...] [--no-training-sets]

``curves`` first replays each policy once on a 100K-access trace (its loop compiled, or
loaded from the kernel cache: reported apart as ``load_s``), then times the curves of all
``--policies`` (default: every registered policy that needs no model) sharing their
samples, as ``recsim mrc --policy a,b,c`` does, and reports the seconds of each.
``full`` times what those curves replace: a full 32-way replay of each policy at 10% (its
loop loaded first), extrapolated to the 20 sizes as 20 x that time, and, to check the
extrapolation, LRU's and S3-FIFO's full replays at all 20 sizes. With both steps the
last line is the ratio of the sampled curves' time to the full replays'.

The remap step deletes the trace's cached dense ids first, so it measures a first-time
import/remap; the later steps use the cached ids.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench_trace import peak_rss_mb

STEPS = ("gen", "remap", "replay", "chunked", "mrc", "curves", "full")


def sampled_curves(trace, names: list[str], training_sets: bool = True) -> dict:
    """Every policy's 1%-sampled curve, 32-way, at the default sizes: seconds each
    (``training_sets``: the replay setting, docs/sampling.md)."""
    from recsim.engine.replay import replay
    from recsim.engine.sample import sampled_mrc

    load_s, cache, seconds = load_loops(names, sample=0.5), {}, {}
    for name in names:
        start = time.perf_counter()
        curve = sampled_mrc(replay, trace, name, rate=0.01, ways=32, cache=cache,
                            training_sets=training_sets)
        seconds[name] = round(time.perf_counter() - start, 2)
        print(f"{name}: {seconds[name]} s, miss ratio at 10% {curve['miss_ratio'][9]:.4f}",
              file=sys.stderr, flush=True)
    return {"policies": len(seconds), "load_s": load_s,
            "curves_s": round(sum(seconds.values()), 1), "seconds": seconds}


def load_loops(names: list[str], **options) -> float:
    """Compile (or load from the kernel cache) each policy's loop by a replay of a
    100K-access trace; its seconds."""
    import recsim
    from recsim.traces import generate_trace

    start, small = time.perf_counter(), generate_trace("zipf", accesses=100_000)
    for name in names:
        recsim.simulate(small, name, 0.1, 32, **options)
    return round(time.perf_counter() - start, 1)


def full_replays(trace, names: list[str], every_size=("lru", "s3fifo")) -> dict:
    """Replay seconds of full 32-way replays: each policy at 10%, ``every_size`` at the
    default sizes; ``full_s``: 20 x the 10% replays, the curves' estimated cost."""
    import recsim
    from recsim.engine.sample import DEFAULT_SIZES

    def replay_s(name, size):
        return recsim.simulate(trace, name, size, 32).timings["replay_s"]

    load_s, at_10 = load_loops(names), {}
    for name in names:
        at_10[name] = round(replay_s(name, 0.1), 2)
        print(f"{name}: {at_10[name]} s at 10%", file=sys.stderr, flush=True)
    curve = {name: round(sum(replay_s(name, size) for size in DEFAULT_SIZES), 1)
             for name in every_size if name in names}
    return {"load_s": load_s, "at_10pct_s": at_10, "curve_s": curve,
            "full_s": round(len(DEFAULT_SIZES) * sum(at_10.values()), 1)}


def default_policies() -> list[str]:
    """Every registered policy that replays without a model (recmg's and nextuse's are
    learned: recmg without a model is LRU; nextuse trains as it replays)."""
    from recsim.registry import policies

    return [p for p in policies() if p not in ("recmg", "nextuse")]


def run_step(step: str, path: Path, args) -> dict:
    """One step, in this process."""
    import recsim
    from recsim.engine.mrc import lru_mrc
    from recsim.traces import meta_like

    start = time.perf_counter()
    if step == "gen":
        trace = meta_like.generate(args.accesses, path=path)
        out = {"tables": trace.n_tables}
    else:
        trace = recsim.load_trace(path)
        if step == "remap":
            for name in ("vid.npy", "keys.npy"):
                (path / name).unlink(missing_ok=True)
            out = {"unique": trace.n_unique}
        elif step == "curves":
            out = sampled_curves(trace, args.policies, args.training_sets)
        elif step == "full":
            out = full_replays(trace, args.policies)
        elif step == "mrc":
            curve = lru_mrc(trace, 0.01)
            out = {"miss_ratio_at_10pct": curve["miss_ratio"][9],
                   "kept_vectors": curve["kept_vectors"]}
        else:
            result = recsim.simulate(trace, "lru", 0.1, 32,
                                     chunk=args.chunk if step == "chunked" else None)
            out = {"hit_rate": result.hit_rate, "misses": result.misses,
                   "replay_s": result.timings["replay_s"],
                   "remap_load_s": result.timings["remap_s"],
                   "compile_s": result.timings["compile_s"]}
    return {"step": step, "wall_s": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(),
            **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accesses", type=int, default=468_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("results/bench"))
    ap.add_argument("--chunk", type=int, default=16_000_000)
    ap.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    ap.add_argument("--policies", nargs="+", help="for curves (default: all without a model)")
    ap.add_argument("--training-sets", action=argparse.BooleanOptionalAction, default=True,
                    help="for curves: replay global-state policies' training sets")
    ap.add_argument("--step", help=argparse.SUPPRESS)  # internal: run one step, print JSON
    args = ap.parse_args()
    path = args.workdir / f"meta_like_{args.accesses}.trace"
    args.policies = args.policies or default_policies()
    if args.step:
        print(json.dumps(run_step(args.step, path, args)))
        return
    steps = [s for s in args.steps if not (s == "gen" and path.exists())]
    print(f"trace: {path} ({args.accesses:,} accesses)\n")
    print("| step | wall s | peak RSS MB | result |\n|---|---|---|---|")
    results = {}
    for step in steps:
        done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--step", step],
                              capture_output=True, text=True)
        if done.returncode:
            print(f"| {step} | failed: {done.stderr.strip().splitlines()[-1:]} | | |")
            continue
        r = results[step] = json.loads(done.stdout.strip().splitlines()[-1])
        rest = {k: v for k, v in r.items() if k not in ("step", "wall_s", "peak_rss_mb")}
        print(f"| {step} | {r['wall_s']:.1f} | {r['peak_rss_mb']:,.0f} | {json.dumps(rest)} |",
              flush=True)
    if "curves" in results and "full" in results:
        sampled, full = results["curves"]["curves_s"], results["full"]["full_s"]
        print(f"\nsampled curves {sampled:.0f} s, full replays (20 x 10%) {full:.0f} s: "
              f"1/{full / sampled:.0f}")


if __name__ == "__main__":
    main()
