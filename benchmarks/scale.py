"""Production-size replay: a meta-like trace as large as Meta's released ones, generated to
disk once, then its dense-id remap, a 32-way LRU replay at a 10% buffer (single shot and
streamed in chunks) and a 1%-sampled miss-ratio curve, each in a fresh process that
reports its wall time and peak resident memory (VmHWM).

    python benchmarks/scale.py [--accesses 468000000] [--workdir results/bench]
                               [--chunk 16000000] [--steps gen remap replay chunked mrc]

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

STEPS = ("gen", "remap", "replay", "chunked", "mrc")


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
    ap.add_argument("--step", help=argparse.SUPPRESS)  # internal: run one step, print JSON
    args = ap.parse_args()
    path = args.workdir / f"meta_like_{args.accesses}.trace"
    if args.step:
        print(json.dumps(run_step(args.step, path, args)))
        return
    steps = [s for s in args.steps if not (s == "gen" and path.exists())]
    print(f"trace: {path} ({args.accesses:,} accesses)\n")
    print("| step | wall s | peak RSS MB | result |\n|---|---|---|---|")
    for step in steps:
        done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--step", step],
                              capture_output=True, text=True)
        if done.returncode:
            print(f"| {step} | failed: {done.stderr.strip().splitlines()[-1:]} | | |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        rest = {k: v for k, v in r.items() if k not in ("step", "wall_s", "peak_rss_mb")}
        print(f"| {step} | {r['wall_s']:.1f} | {r['peak_rss_mb']:,.0f} | {json.dumps(rest)} |",
              flush=True)


if __name__ == "__main__":
    main()
