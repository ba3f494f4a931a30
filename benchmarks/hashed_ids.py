"""64-bit hashed row ids against dense ones: the same meta-like trace twice, once with its
row ids and once with every (table, row) replaced by a 64-bit hash (splitmix64 of the
key, as uint64: the ids of a production log), each remapped and replayed (32-way LRU,
10% buffer) in a fresh process that reports wall time and peak resident memory.

    python benchmarks/hashed_ids.py [--accesses 20000000] [--workdir results/bench]

The remap step deletes the cached dense ids first (a first-time remap); its memory per
access is (peak RSS - RSS before the remap) / accesses. Both traces give the same hit
rate: a hash is a bijection of the vectors, and the hashed trace takes the ranked key
layout, whose counts are those of its rows renumbered densely; the dense trace keeps its
ids, whose sets differ, so the 32-way hit rates agree only closely.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_trace import peak_rss_mb

FORMS = ("dense", "hashed")


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_traces(workdir: Path, accesses: int) -> dict:
    """The dense meta-like trace and its hashed twin (native, uint64 row.npy)."""
    import recsim
    from recsim.engine.settings import mix64
    from recsim.traces import meta_like, save_trace

    paths = {form: workdir / f"meta_like_{accesses}_{form}.trace" for form in FORMS}
    if not paths["dense"].exists():
        meta_like.generate(accesses, path=paths["dense"])
    if not paths["hashed"].exists():
        dense = recsim.load_trace(paths["dense"])
        hashed = mix64(np.asarray(dense.keys()).astype(np.uint64))
        save_trace(recsim.Trace.from_arrays(dense.table, hashed, dense.batch_offsets,
                                            meta={"name": "hashed"}), paths["hashed"])
    return paths


def run_step(step: str, path: Path) -> dict:
    import recsim

    trace = recsim.load_trace(path)
    start = time.perf_counter()
    if step == "remap":
        for name in ("vid.npy", "keys.npy", "table_rows.npy"):
            (path / name).unlink(missing_ok=True)
        before = rss_mb()
        start = time.perf_counter()
        unique = trace.n_unique
        return {"wall_s": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(),
                "unique": unique, "layout": "ranked" if trace.ranked else "row ids",
                "bytes_per_access": (peak_rss_mb() - before) * 2**20 / trace.n_accesses}
    result = recsim.simulate(trace, "lru", 0.1, 32)
    return {"wall_s": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(),
            "hit_rate": round(result.hit_rate, 4), "replay_s": result.timings["replay_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accesses", type=int, default=20_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("results/bench"))
    ap.add_argument("--step", nargs=2, help=argparse.SUPPRESS)  # internal: STEP PATH
    args = ap.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step[0], Path(args.step[1]))))
        return
    paths = make_traces(args.workdir, args.accesses)
    print(f"{args.accesses:,} accesses\n")
    print("| ids | step | wall s | peak RSS MB | result |\n|---|---|---|---|---|")
    for step in ("remap", "replay"):
        for form in FORMS:
            done = subprocess.run([sys.executable, __file__, "--step", step, str(paths[form])],
                                  capture_output=True, text=True)
            if done.returncode:
                print(f"| {form} | {step} | failed: {done.stderr.strip().splitlines()[-1:]} |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rest = {k: v for k, v in r.items() if k not in ("wall_s", "peak_rss_mb")}
            print(f"| {form} | {step} | {r['wall_s']:.1f} | {r['peak_rss_mb']:,.0f} | "
                  f"{json.dumps(rest)} |", flush=True)


if __name__ == "__main__":
    main()
